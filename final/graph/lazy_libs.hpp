// libarchive and libcrypto are loaded on their first call (lazy_libs.cpp). A command that will
// use them loads them first, from its own thread, so that a missing library is one line before
// anything is made, never a failure inside a callback or a worker thread half-way through.
#pragma once

namespace graph {

// dlopen both now (once per process). Throws lab::UserError naming the library and its package.
void load_lazy_libraries();

}  // namespace graph
