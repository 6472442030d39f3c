#include "graph/digest.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "error.hpp"

namespace graph {

namespace {

constexpr std::string_view kPrefix = "sha256:";

std::string hex(const unsigned char* bytes, unsigned int size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

// OpenSSL reports its failures on a queue of its own, not in errno; these calls only fail when
// memory runs out or the library is misbuilt, so the call's name is all a reader needs.
void check_evp(int ok, const char* call) {
  if (ok != 1) throw std::runtime_error(fmt::format("{} failed (OpenSSL)", call));
}

}  // namespace

struct Sha256::Context {
  EVP_MD_CTX* md = nullptr;
  ~Context() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->md = EVP_MD_CTX_new();
  if (context_->md == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed (OpenSSL)");
  check_evp(EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr), "EVP_DigestInit_ex(sha256)");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  if (!context_) throw std::logic_error("Sha256::update after digest()");
  check_evp(EVP_DigestUpdate(context_->md, data, size), "EVP_DigestUpdate");
  bytes_ += size;
}

std::string Sha256::digest() {
  if (!context_) throw std::logic_error("Sha256::digest called twice");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  check_evp(EVP_DigestFinal_ex(context_->md, out, &size), "EVP_DigestFinal_ex");
  context_.reset();
  return std::string(kPrefix) + hex(out, size);
}

struct BackgroundSha256::Worker {
  Sha256 sha;
  std::mutex mutex;
  std::condition_variable changed;
  const void* data = nullptr;  // the block being hashed, or nullptr
  size_t size = 0;
  bool stop = false;
  std::exception_ptr error;
  std::thread thread;

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return data != nullptr || stop; });
      if (data == nullptr) return;
      lock.unlock();
      try {
        sha.update(data, size);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      data = nullptr;
      changed.notify_all();
    }
  }
  void wait_idle() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return data == nullptr; });
    if (error) std::rethrow_exception(std::exchange(error, nullptr));
  }
};

std::thread start_signal_free_thread(std::function<void()> body) {
  // The new thread inherits the mask in force when it is created.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread thread;
  try {
    thread = std::thread(std::move(body));
  } catch (...) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return thread;
}

BackgroundSha256::BackgroundSha256() : worker_(std::make_unique<Worker>()) {
  worker_->thread = start_signal_free_thread([w = worker_.get()] { w->run(); });
}

BackgroundSha256::~BackgroundSha256() {
  {
    std::unique_lock lock(worker_->mutex);
    worker_->changed.wait(lock, [&] { return worker_->data == nullptr; });
    worker_->stop = true;
  }
  worker_->changed.notify_all();
  worker_->thread.join();
}

void BackgroundSha256::update(const void* data, size_t size) {
  if (size == 0) return;
  worker_->wait_idle();
  {
    std::lock_guard lock(worker_->mutex);
    worker_->data = data;
    worker_->size = size;
  }
  worker_->changed.notify_all();
  bytes_ += size;
}

void BackgroundSha256::wait() { worker_->wait_idle(); }

std::string BackgroundSha256::digest() {
  worker_->wait_idle();
  std::string out = worker_->sha.digest();
  worker_->sha = Sha256();
  bytes_ = 0;
  return out;
}

std::string sha256_digest(std::string_view bytes) {
  Sha256 sha;
  sha.update(bytes);
  return sha.digest();
}

bool is_sha256_digest(std::string_view digest) {
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix)
    return false;
  for (char c : digest.substr(kPrefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string digest_hex(std::string_view digest, std::string_view what) {
  if (!is_sha256_digest(digest))
    throw lab::UserError(fmt::format(
        "invalid {} {:?}: expected sha256: and 64 lower-case hex digits", what, digest));
  return std::string(digest.substr(kPrefix.size()));
}

}  // namespace graph
