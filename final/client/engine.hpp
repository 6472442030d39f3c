// The engine's verbs under Docker's grammar: `minidocker [--root DIR] [--explain] VERB ...`.
//
// Each verb opens the store (final/graph/store.hpp) at the engine root, takes its lock for the
// whole command (shared to read, exclusive to write), and prints what Docker prints: the same
// columns, the same units, "Error: No such image: NAME" and exit 1 for a user's mistake, exit 125
// for a command line Docker's CLI would refuse.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graph/store.hpp"
#include "narrator.hpp"
#include "registry/distribution.hpp"

namespace client {

struct EngineOptions {
  std::string root = graph::kDefaultStoreRoot;
  bool explain = false;
  // -H unix:///PATH (or DOCKER_HOST): the verbs are a daemon's jobs, asked over the Docker
  // Engine API (final/daemon/http_client.hpp); empty: the CLI runs them itself, as podman does.
  std::string host;
};

// --explain: "[lesson 05] ..." or "[graph] sha256 of ..." lines on stderr through the narrator.
class Narration {
 public:
  explicit Narration(bool on);
  // `lesson` is "01".."06", or "" for a step of the image store.
  void step(std::string_view lesson, std::string_view call, std::string_view shell = {}) const;

 private:
  std::unique_ptr<lab::Narrator> narrator_;
};

// The store at options.root, its narration wired to --explain. The caller takes the lock.
std::unique_ptr<graph::Store> open_store(const EngineOptions& options);

// A user's mistake in an engine verb: printed as Docker does, "Error: <message>", exit 1.
int report_user_error(const std::string& message);

// The words after a verb's first positional (run's and create's IMAGE, exec's and top's
// CONTAINER) are the container's, verbatim, as Docker's CLI reads them: its flag parser stops at
// the first positional (pflag's SetInterspersed(false)), so `run busybox -c x` runs `-c x` (not
// --cpu-shares) and `--help`, `-d` or `--` there are the program's too. Options before it are the
// verb's; a `--` before it only ends them. Declares `words` as the positional `name`, after the
// verb's own, and sets CLI11's positionals_at_end: from the first positional on, every word is
// read as a positional. (prefix_command would not do: it stops only at a word it cannot place,
// so a known option right after the first positional was still taken as the verb's.)
CLI::Option* add_container_words(CLI::App* verb, const std::string& name,
                                 std::vector<std::string>& words, const std::string& description);

// A word that starts with '-' but is no flag of the verb, in pflag's words (Docker's CLI reads its
// flags with spf13/pflag): "unknown flag: --nosuch" (a value after '=' left out), "unknown
// shorthand flag: 'Z' in -Z" (the letter, then the cluster from that letter on: in -iZ, -i was
// read, so pflag says "in -Z", which is the word CLI11 sets aside too), "bad flag syntax: ---x".
std::string unknown_flag_error(std::string_view word);

// Docker's lines for a flag error, as docker 20.10's cli/cobra.go FlagErrorFunc prints them:
// pflag's `error`, "See 'PATH --help'." for the command whose flags were being read (`path`:
// "minidocker run", or "minidocker" before the verb), and, only for a command that has
// subcommands of its own (minidocker itself, image, network, volume...), a blank line and that
// command's usage (cobra's UsageString; here CLI11's help of it). A verb (run, exec, stop,
// image ls) gets the two lines alone.
std::string flag_error_lines(const CLI::App& command, const std::string& path,
                             std::string_view error);

// How many words a verb takes after its flags, as Docker's CLI checks them before it runs the
// verb (cobra's Args, docker/cli's cli/required.go): NoArgs is {0, 0}, ExactArgs(2) {2, 2},
// RequiresMinArgs(1) {1, none}, RequiresMaxArgs(1) {0, 1}, RequiresRangeArgs(1, 2) {1, 2}.
struct Arity {
  size_t min = 0;
  std::optional<size_t> max;  // nullopt: no upper bound
};
inline constexpr Arity kNoArgs{0, 0};
constexpr Arity exactly(size_t n) { return {n, n}; }
constexpr Arity at_least(size_t n) { return {n, std::nullopt}; }
constexpr Arity at_most(size_t n) { return {0, n}; }
constexpr Arity between(size_t min, size_t max) { return {min, max}; }

// Declares a verb's grammar as Docker's CLI has it: `use` is cobra's Use after the verb's name
// ("[OPTIONS] IMAGE [COMMAND] [ARG...]"; "" for a verb that takes nothing), `args` its arity.
// The verb's CLI11 description is cobra's Short. Its --help then shows Docker's usage line,
// "Usage:  minidocker run [OPTIONS] IMAGE [COMMAND] [ARG...]", and run_engine refuses a wrong
// count of words with argument_count_error's lines.
void docker_args(CLI::App* verb, std::string use, Arity args);

// Docker 20.10's words for `given` arguments that `arity` refuses (cli/required.go), nullopt when
// it takes them: "\"minidocker tag\" requires exactly 2 arguments.", then "See 'minidocker tag
// --help'.", a blank line, "Usage:  USE_LINE", a blank line and the verb's Short. `path` is the
// command as Docker names it ("minidocker image ls" for `image list` too). These are the lines of
// the 20.10 client the daemon tests drive (build/docker-cli/docker, API v1.41); docker 23+ lays
// them out otherwise ("docker: 'docker tag' requires 2 arguments", the usage, "Run 'docker tag
// --help' for more information") with the same counts.
std::optional<std::string> argument_count_error(const std::string& path, const Arity& arity,
                                                size_t given, std::string_view use_line,
                                                std::string_view short_text);

// argument_count_error for `verb` as docker_args declared it; nullopt for a verb that declared
// nothing (CLI11 then checks its positionals).
std::optional<std::string> argument_count_lines(const CLI::App& verb, const std::string& path,
                                                size_t given);

// Whether `command` has verbs of its own (minidocker, image, network...), not option groups.
bool has_verbs(const CLI::App& command);

// Docker 20.10's lines for `words` given to a command that has verbs, where none of them was
// named: minidocker itself says "minidocker: 'x' is not a minidocker command." and "See
// 'minidocker --help'" (cmd/docker's noArgs), a group (network, image...) a blank line and its
// usage (cli/required.go's NoArgs). nullopt without words. Exit 1, as Docker's.
std::optional<std::string> unknown_command_lines(const CLI::App& command, const std::string& path,
                                                 const std::vector<std::string>& words);

// Docker's lines (flag_error_lines) for the first word CLI11 set aside, while parsing `app`, that
// starts with '-': pflag's words for the command that was reading (minidocker itself for a word
// before the verb); nullopt when nothing of the kind was set aside. Read after app.parse, which
// may have thrown.
std::optional<std::string> unknown_flag_lines(const CLI::App& app);

// Go's %q of a string, as pflag quotes a flag's value in "invalid argument %q": "abc", "a\"b",
// "\t", "\x01"; a UTF-8 character as it is, a byte that starts none as "\xff".
std::string go_quoted(std::string_view text);

// Go's strconv.ParseInt(text, 0, 64), which pflag's int and int64 flags call (--cpu-shares,
// --pids-limit, stop -t): a sign, then decimal, 0x hex, 0o or 0 octal, 0b binary, '_' between
// digits ("1_000"). nullopt for anything else ("x", "1.5", "", " 1") or beyond 64 bits.
std::optional<long long> go_int64(std::string_view text);
// Go's strconv.ParseBool, for a flag given a value (--detach=false, -d=0): 1 t T TRUE true True,
// 0 f F FALSE false False.
std::optional<bool> go_bool(std::string_view text);

// CLI11 checks that refuse, as the flag's pflag type refuses while reading the command line, a
// value Docker's CLI would not take: ->transform(client::int_flag()) on an option pflag reads as
// an int ("give a whole number"; the value then reaches CLI11 in plain decimal), Docker's own value
// types of run and create: NanoCPUs (--cpus: "failed to parse abc as a rational number"), MemBytes
// (--memory: "invalid size: 'xyz'") and MemSwapBytes (--memory-swap: -1 or a size).
CLI::Validator int_flag();
CLI::Validator nano_cpus_flag();
CLI::Validator mem_bytes_flag();
CLI::Validator mem_swap_bytes_flag();

// The command line as pflag reads it, before CLI11 parses it. Docker's CLI reads every flag of the
// verb, in order, before it runs the verb, and stops at the first it cannot take, so that one
// error, and only it, is printed:
//   "flag needs an argument: --cpus", "flag needs an argument: 'c' in -c" (no word left for it);
//   "invalid argument \"abc\" for \"--cpus\" flag: REASON" (a value the flag's checks, its CLI11
//   validators, refuse; the flag named "-c, --cpu-shares" when it has a letter).
// `args` come without the program's name. Where CLI11 would read a word differently from pflag,
// `args` holds pflag's meaning in CLI11's spelling: a letter's value after '=' (`-c=2048` is
// 2048 to pflag, "=2048" to CLI11), a value that is empty (`--cpus=`) or a bool flag's value
// (`-d=false`). Reading stops, leaving the rest as it was, at "--", at the first positional of a
// verb whose flags end there (run, create, exec: add_container_words) and at a flag the command
// does not have (unknown_flag_lines then names it, as pflag would).
// Reading also counts the words that are not flags, after the last verb named, as cobra hands
// them to the verb's Args check: every word after "--" and, for run, create and exec, every word
// from the first positional on. It cannot count past a flag it does not know (CLI11 then reports
// it, as pflag would, before any count) nor when --help was asked for (cobra shows the help).
struct FlagReading {
  std::vector<std::string> args;
  std::optional<std::string> error;  // Docker's lines: pflag's, then flag_error_lines's
  std::string command;               // "minidocker run": whose flags were read
  CLI::App* verb = nullptr;          // that command
  // its words besides flags, cobra's args; nullopt when uncounted
  std::optional<std::vector<std::string>> arguments;
};
FlagReading read_flags(CLI::App& app, const std::vector<std::string>& args);

// cobra's check of the words a reading left to its verb, after the flags were fine: the verb's
// arity (argument_count_lines) or, for minidocker and its groups, unknown_command_lines. Docker's
// lines, printed with exit 1; nullopt when the words are fine or were not counted.
std::optional<std::string> arguments_refused(const FlagReading& reading);

// import, images / image ls, tag, rmi / image rm, history, image inspect, image prune, system df.
// `action` is set to the verb that was chosen.
void add_image_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// The images `images` lists, newest first: with `all` the intermediate ones too (untagged, with
// a child). Shared with the daemon's GET /images/json (final/daemon/routes.cpp).
std::vector<graph::Image> listed_images(const graph::Store& store, bool all);
// One image as `image inspect` prints it (Docker's JSON); the daemon's GET /images/{name}/json.
nlohmann::json image_inspect_json(const graph::Store& store, const graph::Image& image);

// `system df`'s facts, as Docker's GET /system/df answers them (LayersSize; Images with Size,
// SharedSize and Containers; Containers with SizeRw; Volumes with UsageData); the CLI sums them
// into its table, in-process or through a daemon, whose route is this too.
nlohmann::json disk_usage_json(const EngineOptions& options);

// The verbs' jobs without their printing, shared with the daemon's routes (final/daemon/
// routes_images.cpp), which answer with the same facts as Docker's JSON.

// import: a layer tar (plain, gzip or zstd) read from `fd` to its end becomes a one-layer image,
// tagged `name` when given; `comment` is its history entry's. The caller holds the exclusive
// lock. Returns the image id.
std::string import_image(graph::Store& store, int fd, const std::string& name,
                         const std::string& comment);
// rmi of one reference, Docker's rules (images.cpp): each tag removed and each image deleted is
// appended to `done` as it happens ({"Untagged", "busybox:latest"}, {"Deleted", "sha256:..."}),
// so a conflict thrown half-way (lab::UserError "conflict: ...") leaves there what was done.
void remove_image(graph::Store& store, const std::string& ref, bool force, bool prune,
                  std::vector<std::pair<std::string, std::string>>& done);
// history: one row per history entry of the image, newest first; `image` is the image id on
// the rows that are an image of the store (the image itself, then its parents: build steps),
// "<missing>" on the others.
struct HistoryRow {
  std::string image;
  int64_t created = 0;  // seconds since the epoch, 0 when unknown
  std::string created_by, comment;
  uint64_t size = 0;
  std::vector<std::string> tags;  // the tags of `image`
};
std::vector<HistoryRow> image_history(const graph::Store& store, const graph::Image& image);

// What pull and push tell as they go, as Docker's progress messages: the CLI prints them as
// `docker pull` does, the daemon sends them as Docker's progress JSON.
class TransferEvents {
 public:
  virtual ~TransferEvents() = default;
  // A line about the whole image when `id` is "" ("Digest: sha256:..."), else about the layer or
  // tag `id` ("Pull complete" for "a3ed95caeb02", "Pulling from lab/busybox" for "v1").
  virtual void status(const std::string& id, const std::string& text) = 0;
  // Bytes of layer `id` moving ("Downloading", "Pushing"); an empty callback shows nothing.
  virtual registry::Progress progress(const std::string& id, const std::string& verb) = 0;
};
// pull NAME[:TAG|@DIGEST] into the store at options.root (the shared lock while the layers
// download, the exclusive one to unpack them and for the record);
// returns the reference fully qualified ("docker.io/library/busybox:latest").
std::string pull_image(const EngineOptions& options, const std::string& name,
                       TransferEvents& events);
// push NAME[:TAG] from the store (shared lock). Its result is the last line's facts.
struct PushResult {
  std::string reference;  // fully qualified
  std::string tag, digest;
  size_t size = 0;  // of the manifest
};
PushResult push_image(const EngineOptions& options, const std::string& name,
                      TransferEvents& events);

// load and save: final/client/load_save.cpp (the transfer helper's file), same contract.
void add_load_save_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// pull and push (final/client/pull_push.cpp), same contract; call after add_image_verbs, which
// makes the `image` group that `image pull` and `image push` join.
void add_pull_push_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// create, run, start, ps, logs, wait, stop, kill, rm, inspect, container ls|rm|inspect|prune
// (final/client/containers.cpp; the jobs are final/engine/), same contract.
void add_container_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// attach and restart (final/client/attach.cpp), same contract.
void add_attach_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// network create|ls|rm|inspect (final/client/networks.cpp, over final/network/driver.hpp), same
// contract.
void add_network_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// system prune (final/client/system.cpp), same contract; call after add_image_verbs (which makes
// the `system` group) and add_container_verbs.
void add_system_prune(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// exec, top, stats, pause, unpause, rename (final/client/ops.cpp; the jobs are
// final/engine/ops.cpp), same contract.
void add_ops_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// volume create|ls|rm|inspect|prune (final/client/volumes.cpp, over final/engine/volumes.hpp),
// same contract.
void add_volume_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// The volumes no container uses (anonymous ones, or `all`) removed, in-process or through -H's
// daemon; their names, and their bytes in `reclaimed`. volume prune's and system prune's job.
std::vector<std::string> prune_volumes(const EngineOptions& options, bool all, uint64_t& reclaimed);

// cp and diff (final/client/files.cpp, over final/engine/files.hpp), same contract.
void add_file_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// commit (final/client/commit.cpp, over final/engine/commit.cpp), same contract.
void add_commit_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// build (final/client/build.cpp, over final/engine/build.cpp), same contract.
void add_build_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// `info`'s facts, as Docker's GET /info answers them (containers by state, images, drivers, the
// host); the daemon's route is this too (final/client/version.cpp).
nlohmann::json engine_info_json(const EngineOptions& options);
// version and info (final/client/version.cpp), same contract.
void add_version_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// daemon (final/daemon/command.cpp): serves the engine over the Docker Engine API on a unix
// socket (final/daemon/server.cpp, router.hpp, routes.cpp), same contract.
void add_daemon_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// Parses argv against `app` (whose verbs set `action`) and runs the verb, Docker's way: first as
// pflag reads it (read_flags: a flag without its value or with a value it refuses, in pflag's
// words), then with CLI11; a flag the verb does not have, unknown_flag_lines (Docker's "unknown
// flag: --x", no prefix); any of these in flag_error_lines's lines, with exit 125. With the flags
// fine, a wrong count of words (arguments_refused) prints Docker's lines and exits 1, before
// CLI11 reads them. Another bad command line prints "minidocker: <what>\nSee 'minidocker VERB
// --help'." and exits 125.
// With -H (or DOCKER_HOST, read here when -H is absent), a verb the daemon does not serve yet
// fails with one line and exit 1: it is never run in-process behind the user's back.
int run_engine(CLI::App& app, EngineOptions& options, const std::function<int()>& action,
               int argc, char** argv);

}  // namespace client
