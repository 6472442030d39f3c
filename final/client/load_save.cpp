// `minidocker load` and `minidocker save`: images to and from a tar, as `docker load`/`save`.
//
//   minidocker save -o busybox.tar busybox        docker save's combined archive (see
//   minidocker save busybox | gzip > b.tar.gz     graph/image_archive.hpp)
//   minidocker load -i busybox.tar                docker-save or OCI layout, plain or compressed
//   skopeo copy oci-archive:x.tar docker-archive:/dev/stdout | minidocker load
//   minidocker -H unix://S load -i b.tar         the archive is POST /images/load's body; save's
//                                                 comes from GET /images/get
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/image_archive.hpp"
#include "graph/store.hpp"

namespace client {

namespace {

struct LoadOptions {
  std::string input;  // "" reads stdin
  bool quiet = false;
};

struct SaveOptions {
  std::vector<std::string> images;
  std::string output;  // "" writes stdout
};

// One line on stderr, redrawn in place: only on a terminal, as Docker's progress output.
class ProgressBar {
 public:
  ProgressBar(std::string label, bool wanted)
      : label_(std::move(label)), enabled_(wanted && ::isatty(STDERR_FILENO) == 1) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() {
    if (drawn_) std::fputs("\n", stderr);
  }

  // Redraws when a hundredth of the whole (or, with no total, a MiB) has passed since the last
  // time: a terminal fed every megabyte of a fast copy slows the copy down.
  void update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    uint64_t step = total > 0 ? std::max<uint64_t>(total / 100, 1) : 1 << 20;
    if (drawn_ && done < last_ + step && done != total) return;
    last_ = done;
    drawn_ = true;
    constexpr int kWidth = 40;
    if (total > 0) {
      int filled = static_cast<int>(static_cast<double>(std::min(done, total)) /
                                    static_cast<double>(total) * kWidth);
      std::string bar(static_cast<size_t>(filled), '=');
      if (filled < kWidth) bar += '>';
      bar.resize(kWidth, ' ');
      std::fprintf(stderr, "\r%s [%s] %s/%s\x1b[K", label_.c_str(), bar.c_str(),
                   graph::human_size(static_cast<double>(done)).c_str(),
                   graph::human_size(static_cast<double>(total)).c_str());
    } else {
      std::fprintf(stderr, "\r%s %s\x1b[K", label_.c_str(),
                   graph::human_size(static_cast<double>(done)).c_str());
    }
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  uint64_t last_ = 0;
};

void write_all(int fd, std::string_view data, const std::string& where) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n == -1 && errno == EINTR) continue;
    lab::check(n, [&] { return fmt::format("write({})", where); });
    data.remove_prefix(static_cast<size_t>(n));
  }
}

lab::UniqueFd open_input(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd == -1 && errno == ENOENT)
    throw lab::UserError(fmt::format("open {}: no such file or directory", path));
  lab::check(fd, [&] { return fmt::format("open(\"{}\", O_RDONLY)", path); });
  return lab::UniqueFd(fd);
}

int load(const EngineOptions& engine, const LoadOptions& options) {
  lab::UniqueFd file;
  int fd = STDIN_FILENO;
  if (!options.input.empty()) {
    file = open_input(options.input);
    fd = file.get();
  } else if (::isatty(STDIN_FILENO) == 1) {
    throw lab::UserError(
        "requested load from stdin, but stdin is a terminal: use -i FILE or < FILE");
  }
  uint64_t total = 0;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) total = static_cast<uint64_t>(st.st_size);

  std::vector<graph::LoadedImage> loaded;
  if (!engine.host.empty()) {
    // The archive is the body of POST /images/load, sent as it is read (the bar counts what has
    // gone); dockerd answers {"stream": "Loaded image: NAME\n"} per name, printed as it is.
    api::ResponseStream stream = [&] {
      ProgressBar bar("Loading", !options.quiet);
      return api::DaemonClient(engine.host, engine.explain)
          .upload("POST", fmt::format("/images/load?quiet={}", options.quiet ? 1 : 0),
                  "application/x-tar", fd, [&](uint64_t done) { bar.update(done, total); });
    }();
    api::read_messages(stream, [](const nlohmann::json& m) {
      if (m.contains("stream")) std::cout << m.value("stream", "");
    });
    return 0;
  }
  auto store = open_store(engine);
  graph::StoreLock lock = store->lock(graph::LockMode::exclusive);
  {
    ProgressBar bar("Loading", !options.quiet);
    loaded =
        graph::load_image_archive(*store, fd, {}, [&](uint64_t done) { bar.update(done, total); });
  }
  for (const graph::LoadedImage& image : loaded) {
    if (image.tags.empty()) fmt::print("Loaded image ID: {}\n", image.id);
    for (const std::string& tag : image.tags) fmt::print("Loaded image: {}\n", tag);
  }
  return 0;
}

int save(const EngineOptions& engine, const SaveOptions& options) {
  if (options.output.empty() && ::isatty(STDOUT_FILENO) == 1)
    throw lab::UserError("cowardly refusing to save to a terminal. Use the -o flag or redirect");
  // write_archive(fd) writes the archive: made here from the store, or through a daemon the body
  // of GET /images/get?names=A&names=B, which a missing name makes a 404 before any byte.
  std::function<void(int)> write_archive;
  std::unique_ptr<graph::Store> store;
  std::optional<graph::StoreLock> lock;
  std::optional<api::ResponseStream> stream;
  if (!engine.host.empty()) {
    std::string target = "/images/get?";
    for (const std::string& image : options.images)
      target += (target.back() == '?' ? "names=" : "&names=") + api::url_escape(image);
    stream.emplace(api::DaemonClient(engine.host, engine.explain).open("GET", target));
    if (stream->status() >= 400)
      api::throw_if_refused(stream->status(), stream->reason(), stream->rest());
    write_archive = [&](int fd) {
      // No Content-Length: the daemon makes the tar as it sends it. The bar counts bytes alone.
      ProgressBar bar("Saving", true);
      uint64_t done = 0;
      for (std::string piece = stream->next(); !piece.empty(); piece = stream->next()) {
        write_all(fd, piece, options.output.empty() ? "stdout" : options.output);
        done += piece.size();
        bar.update(done, 0);
      }
    };
  } else {
    store = open_store(engine);
    lock.emplace(store->lock(graph::LockMode::shared));
    for (const std::string& image : options.images) store->resolve(image);  // "No such image"
    write_archive = [&](int fd) {
      ProgressBar bar("Saving", true);
      graph::save_image_archive(*store, options.images, fd,
                                [&](uint64_t done, uint64_t all) { bar.update(done, all); });
    };
  }

  if (options.output.empty()) {
    write_archive(STDOUT_FILENO);
    return 0;
  }
  // A temp file beside the target, renamed when complete: a failed save leaves no half archive
  // under the name asked for (docker's CLI does the same).
  std::string temp = options.output + ".tmp-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd == -1 && errno == ENOENT)
    throw lab::UserError(fmt::format("save -o {}: its directory does not exist", options.output));
  lab::UniqueFd out(lab::check(fd, [&] { return fmt::format("mkostemp(\"{}\")", temp); }));
  try {
    write_archive(out.get());
    lab::check(::fchmod(out.get(), 0644), [&] { return fmt::format("fchmod(\"{}\")", temp); });
    lab::check(::fsync(out.get()), [&] { return fmt::format("fsync(\"{}\")", temp); });
    lab::check(::rename(temp.c_str(), options.output.c_str()),
               [&] { return fmt::format("rename(\"{}\", \"{}\")", temp, options.output); });
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  return 0;
}

}  // namespace

void add_load_save_verbs(CLI::App& app, const EngineOptions& engine, std::function<int()>& action) {
  static LoadOptions load_options;
  auto* load_cmd = app.add_subcommand("load", "Load an image from a tar archive or STDIN");
  docker_args(load_cmd, "[OPTIONS]", kNoArgs);
  load_cmd->add_option("--input,-i", load_options.input,
                       "read from this tar archive file, instead of STDIN");
  load_cmd->add_flag("--quiet,-q", load_options.quiet, "suppress the progress output");
  load_cmd->callback([&] { action = [&] { return load(engine, load_options); }; });

  static SaveOptions save_options;
  auto* save_cmd = app.add_subcommand(
      "save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
  docker_args(save_cmd, "[OPTIONS] IMAGE [IMAGE...]", at_least(1));
  save_cmd->add_option("images", save_options.images, "IMAGE...: names or ids")->required();
  save_cmd->add_option("--output,-o", save_options.output, "write to a file, instead of STDOUT");
  save_cmd->callback([&] { action = [&] { return save(engine, save_options); }; });
}

}  // namespace client
