// Layers as tar archives, read and written with libarchive.
//
// A layer is a tar of the files one step added or changed (OCI image-spec, layer.md). Deletions
// travel as whiteouts: an empty file `.wh.NAME` says NAME is gone, `.wh..wh..opq` in a directory
// says nothing below this layer shows through it. On disk, overlayfs spells the same things its
// own way: a 0:0 character device, and the xattr trusted.overlay.opaque="y". Unpacking turns the
// first spelling into the second; exporting turns it back.
//
// An archive is untrusted input: an entry may not escape the layer directory by an absolute path,
// `..`, or a symlink or hardlink in the layer that points outside (every path is resolved inside
// the layer, openat2(RESOLVE_IN_ROOT)); device nodes are made only by root.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace graph {

struct UnpackLimits {
  uint64_t max_bytes = 64ULL << 30;  // file content in total, after decompression
  uint64_t max_entries = 4'000'000;  // entries (a bomb of tiny files)
};

struct UnpackResult {
  std::string blob_digest;     // sha256 of the bytes read from the fd (compressed as they came)
  std::string diff_id;         // sha256 of the uncompressed tar (the config's rootfs.diff_ids)
  uint64_t blob_size = 0;      // bytes read from the fd
  uint64_t content_bytes = 0;  // bytes of file content written
  uint64_t entries = 0;
};

// Called now and then with the bytes read so far (for progress bars); may be empty.
using Progress = std::function<void(uint64_t bytes_read)>;

// Reads a layer tar (plain, gzip or zstd: libarchive detects it) from `fd` to its end and writes
// its entries under `dir`, an existing empty directory, as overlay's lower layer format.
// Throws lab::UserError (one line naming the entry and why) for a malicious or broken entry and
// for the limits; the caller then removes `dir` (nothing is written outside it).
// `known_blob_digest`: the digest of the bytes `fd` holds, when the caller hashed them as it
// wrote them (a stored or staged blob); they are then not hashed again, and it is returned as
// blob_digest. A plain (uncompressed) tar is hashed once: its diff id is its blob digest.
UnpackResult unpack_layer(int fd, const std::string& dir, const UnpackLimits& limits = {},
                          const Progress& progress = {},
                          std::string_view known_blob_digest = {});

// Writes the tree under `dir` (an overlay upper or lower layer) to `fd` as an uncompressed tar,
// entries sorted by path, overlay whiteouts and opaque directories turned into OCI whiteouts.
// Returns the sha256 digest of the tar written (its diff id).
std::string export_layer(const std::string& dir, int fd);

// Reads a possibly compressed blob from `fd` and writes its uncompressed bytes to `out_fd`
// (docker save needs the plain tar of a gzip layer). Returns the sha256 of what was written.
std::string decompress_to(int fd, int out_fd);

}  // namespace graph
