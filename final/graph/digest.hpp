// Content addresses: "sha256:<64 hex>", computed with OpenSSL's EVP interface.
//
// Everything in an image is named by the SHA-256 of its bytes (OCI image-spec, descriptor.md):
// a layer blob, a config, a manifest. The name is the check: whoever hands us bytes under a
// digest can be verified by hashing them again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace graph {

// A running SHA-256 (EVP_DigestInit/Update/Final).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // "sha256:<hex>"; the object may not be updated afterwards.
  std::string digest();
  uint64_t bytes() const { return bytes_; }

 private:
  struct Context;
  std::unique_ptr<Context> context_;
  uint64_t bytes_ = 0;
};

// A Sha256 computed on a second core while the caller goes on writing what it handed over and
// reading the next block: for a 100 MiB layer that hides about 55 ms of hashing (sha256 runs at
// about 1.9 GB/s here) behind the writes. update() waits until the previous block is hashed,
// hands this one to the hashing thread and returns at once; the caller keeps those bytes
// unchanged until its next call (two buffers in turn do it). The thread blocks every signal
// (they go to the caller's thread) and ends with the object, before any later fork.
class BackgroundSha256 {
 public:
  BackgroundSha256();
  ~BackgroundSha256();
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;
  void update(const void* data, size_t size);
  void wait();            // until every byte handed over is hashed
  // Waits; then "sha256:<hex>" of everything handed over, and starts afresh (one thread serves
  // one file after another).
  std::string digest();
  uint64_t bytes() const { return bytes_; }  // handed over since the last digest()

 private:
  struct Worker;
  std::unique_ptr<Worker> worker_;
  uint64_t bytes_ = 0;
};

// A thread running `body` with every signal blocked, so that SIGINT, SIGTERM and SIGPIPE stay
// with the caller's thread, which handles them. The store's helper threads (hashing, fsync)
// start this way.
std::thread start_signal_free_thread(std::function<void()> body);

// "sha256:<hex>" of `bytes`.
std::string sha256_digest(std::string_view bytes);
// True for "sha256:" followed by exactly 64 lower-case hex digits (the only algorithm we accept;
// anything else in a digest field is refused before it becomes a file name).
bool is_sha256_digest(std::string_view digest);
// The 64 hex digits of a valid digest; throws lab::UserError naming `what` otherwise.
std::string digest_hex(std::string_view digest, std::string_view what = "digest");

}  // namespace graph
