#include "engine/flags.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"

namespace engine {

namespace fs = std::filesystem;

bool swap_accounting() {
  lab::host::CgroupLayout layout = lab::host::detect_cgroups();
  std::string where = layout.where("memory");
  std::error_code ec;
  if (where == "v1")
    return fs::exists(layout.v1_controllers.at("memory") + "/memory.memsw.limit_in_bytes", ec);
  if (where == "v2") {
    // The root cgroup has no memory files of its own: any child with memory.max tells whether
    // the kernel gives it memory.swap.max too.
    for (const auto& entry : fs::directory_iterator(layout.v2_mount, ec)) {
      std::string dir = entry.path().string();
      if (entry.is_directory(ec) && fs::exists(dir + "/memory.max", ec))
        return fs::exists(dir + "/memory.swap.max", ec);
    }
    // No child to ask (a fresh host): the kernel's command line is the other place it is decided.
    return lab::read_file_or_empty("/proc/cmdline").find("swapaccount=0") == std::string::npos;
  }
  return true;  // no memory controller: the runtime says what it cannot write
}

exec::Limits adapt_swap(exec::Limits limits, bool has_swap_accounting) {
  if (limits.memory && limits.memory_swap && *limits.memory_swap != -1 && !has_swap_accounting) {
    fmt::print(stderr,
               "WARNING: Your kernel does not support swap limit capabilities or the cgroup is "
               "not mounted. Memory limited without swap.\n");
    limits.memory_swap = -1;
  }
  return limits;
}

std::string init_binary() {
  struct stat st {};
  if (::stat(kInitBinary, &st) != 0 || !S_ISREG(st.st_mode) || ::access(kInitBinary, X_OK) != 0)
    throw lab::UserError(fmt::format(
        "--init needs Docker's docker-init, tini: {} is missing; install Debian's tini package "
        "(apt-get install tini, or make deps)",
        kInitBinary));
  return kInitBinary;
}

void add_init(nlohmann::json& spec, const std::string& init) {
  auto& args = spec["process"]["args"];
  nlohmann::json with_init = {kInitPath, "--"};
  for (const auto& a : args) with_init.push_back(a);
  args = with_init;
  spec["mounts"].push_back({{"destination", kInitPath},
                            {"type", "bind"},
                            {"source", init},
                            {"options", {"bind", "ro"}}});
}

}  // namespace engine
