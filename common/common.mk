# Shared build rules, included by each lesson's Makefile (and doctor/, tests/).
# A lesson Makefile sets PROGRAM and SOURCES, then includes this file:
#   PROGRAM := uts
#   SOURCES := main.cpp uts.cpp
#   include ../../common/common.mk
# `make SANITIZE=1` builds with AddressSanitizer and UBSan into separate object folders.
# common/ is compiled once into build/common-obj (build/common-obj-asan) and shared by every
# program; each program's own objects go to .obj (.obj-asan) in its folder.

PROJECT_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
COMMON_DIR  := $(PROJECT_DIR)/common
COMMON_SOURCES := $(wildcard $(COMMON_DIR)/*.cpp)

CXX      ?= g++
CXXSTD   := -std=c++20
WARNINGS := -Wall -Wextra -Wshadow -Wconversion -Werror
OPT      := -O2 -g
ifeq ($(SANITIZE),1)
  OPT    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  OBJDIR := .obj-asan
  COMMON_OBJDIR := $(PROJECT_DIR)/build/common-obj-asan
else
  OBJDIR := .obj
  COMMON_OBJDIR := $(PROJECT_DIR)/build/common-obj
endif
CPPFLAGS += -I$(COMMON_DIR) -DLAB_PROJECT_DIR='"$(PROJECT_DIR)"' -MMD -MP
CXXFLAGS += $(CXXSTD) $(WARNINGS) $(OPT)
LDFLAGS  += $(OPT)
LDLIBS   += -lfmt -lseccomp -lcap

OBJECTS := $(addprefix $(OBJDIR)/,$(SOURCES:.cpp=.o)) \
           $(addprefix $(COMMON_OBJDIR)/,$(notdir $(COMMON_SOURCES:.cpp=.o))) $(EXTRA_OBJECTS)

# The binary remembers which flags built it, so `make` after `make asan` relinks it plainly:
# .build-mode is rewritten (and so newer than the binary) only when the mode changes.
BUILD_MODE  := $(if $(filter 1,$(SANITIZE)),asan,plain)
FLAGS_STAMP := .build-mode
$(shell [ "$$(cat .build-mode 2>/dev/null)" = "$(BUILD_MODE)" ] || echo $(BUILD_MODE) > .build-mode)

$(PROGRAM): $(OBJECTS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(OBJECTS) $(LDLIBS)

$(OBJDIR)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

# Only the flags common/ needs, so that every program can share these objects.
$(COMMON_OBJDIR)/%.o: $(COMMON_DIR)/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -I$(COMMON_DIR) -DLAB_PROJECT_DIR='"$(PROJECT_DIR)"' -MMD -MP $(CXXFLAGS) -c -o $@ $<

.PHONY: clean
clean:
	rm -rf .obj .obj-asan .build-mode $(PROGRAM)

-include $(OBJECTS:.o=.d)
