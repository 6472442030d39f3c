// Lesson 05: union mounts, copy-on-write and image layers (aufs in the notes, overlayfs here).
//
// What it shows: directories A{a,x} and B{b,x} union-mounted on C give a, b and one x (A's),
// as the notes' `mount -t aufs -o dirs=./A:./B none ./C` did. With overlayfs, A and B stay
// read-only: writing b through C copies it up into the upper directory, deleting a leaves a
// whiteout (a character device 0/0) there, a new file lands there. Then the Docker picture: two
// image layers, an init layer and a read-write layer mounted as one rootfs; the lowerdir chain
// is read back from /proc/self/mountinfo, and every change the "container" makes (including
// rm -r + mkdir, which leaves an opaque directory) lands in the rw layer only.
//
// The calls, in order (all in this process, which first moves into its own mount namespace):
//   unshare(CLONE_NEWNS), mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)   mounts stay private
//   mkdir, open/write                       A, B, C, upper, work in /tmp/lab-overlay-XXXXXX
//   mount("overlay", "C", "overlay", 0, "lowerdir=A:B,upperdir=upper,workdir=work")
//   only where the kernel has aufs: mount("none", "C-aufs", "aufs", MS_RDONLY, "br=A=ro:B=ro")
//   readdir, open/write, unlink through C; lstat in upper (S_ISCHR, st_rdev == 0/0)
//   mount("overlay", "rootfs", ...) with four layers; /proc/self/mountinfo; lgetxattr(opaque)
// Man pages: mount(2), unshare(2), mount_namespaces(7), xattr(7), lstat(2); the kernel's
// Documentation/filesystems/overlayfs.rst.
//
// Run it:  make && ./overlay   as root   (--shell to explore C and the layers, --help for all)
// Look for: C holds exactly a, b, x and x says "x from A"; B/b and A/a never change; upper
// holds b (copied up), a (the whiteout) and new; the rw layer holds only what the container did.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "mount.hpp"
#include "narrator.hpp"
#include "overlay.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string dir;
  bool keep = false;
  bool shell = false;
  lab::OutputOptions output;
};

// --- small checked file helpers ------------------------------------------------------------------

void make_dir(const std::string& path) {
  lab::check(::mkdir(path.c_str(), 0755),
             [&] { return fmt::format("mkdir({}, 0755)", lab::quote(path)); });
}

// echo TEXT > PATH: through C this is where copy-up happens (open with O_WRONLY on a lower file).
void put_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
  lab::create_file(path, text + "\n", mode);
}

// The first line of a small file, or "(missing)".
std::string first_line(const std::string& path) {
  if (!overlay::lstat_path(path)) return "(missing)";
  std::string text = lab::read_file(path);
  return text.substr(0, text.find('\n'));
}

bool exists(const std::string& path) { return overlay::lstat_path(path).has_value(); }

std::string words(const std::vector<std::string>& names) {
  return names.empty() ? "(empty)" : fmt::format("{}", fmt::join(names, " "));
}

// --- the child's side: only with --shell ---------------------------------------------------------

// A shell in our mount namespace, in the work dir: C, upper and rootfs are mounted there and
// nowhere else.
int shell_in_child() noexcept {
  try {
    const char* shell = ::access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    ::setenv("PS1", "[overlay lesson] \\w\\$ ", 1);
    ::execl(shell, shell, "--norc", "-i", static_cast<char*>(nullptr));
    lab::check(-1, fmt::format("execl({})", lab::quote(shell)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "overlay: %s\n", e.what());
  }
  return 127;
}

// --- the parent's side ---------------------------------------------------------------------------

int run(const Options& opt) {
  lab::host::require_root("./overlay");
  // Absolute, because the mounts below are made after chdir into the work dir.
  const std::string base_layer = fs::absolute(lab::host::default_rootfs()).string();
  lab::host::require_rootfs(base_layer);
  lab::host::require(lab::host::check_overlay());

  lab::Narrator say("overlay", opt.output.mode(), 10);
  auto step = [&](std::string_view call, std::string_view shell) {
    lab::throw_if_interrupted();
    say.step(call, shell);
  };

  say.heading("the notes' union mount: A and B on C");
  step("unshare(CLONE_NEWNS); mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)",
       "unshare -m; mount --make-rprivate /");
  overlay::unshare_private_mount_namespace();
  say.say("every mount below lives in this private mount namespace and vanishes with it");

  // The work dir: a fresh /tmp/lab-overlay-XXXXXX (removed at the end unless --keep), or --dir.
  // Canonical (no symlinks, no trailing '/'), because the kernel resolves mount points and
  // /proc/self/mountinfo names them that way: step 9 looks the rootfs up there by this path.
  std::optional<lab::TempDir> temp;
  std::string work;
  if (opt.dir.empty()) {
    temp.emplace("/tmp/lab-overlay-");
    work = fs::canonical(temp->path()).string();
  } else {
    if (!exists(opt.dir)) make_dir(opt.dir);
    work = fs::canonical(opt.dir).string();
  }
  step("mkdir(\"A\"), mkdir(\"B\"), open(\"A/a\", O_CREAT) ...",
       "mkdir A B C upper work; echo 'x from A' > A/x ...");
  // From here on the lesson works in relative names, as the notes did. It never goes back: every
  // path used after the run (the TempDir, the mounts' owners) is absolute.
  lab::check(::chdir(work.c_str()), [&] { return fmt::format("chdir({})", lab::quote(work)); });
  for (const char* dir : {"A", "B", "C", "upper", "work"}) make_dir(dir);
  put_file("A/a", "a from A");
  put_file("A/x", "x from A");
  put_file("B/b", "b from B");
  put_file("B/x", "x from B");
  say.say(fmt::format("in {}: A holds {}, B holds {}; C, upper and work are empty", work,
                      words(overlay::list_dir("A")), words(overlay::list_dir("B"))));
  say.fact("work_dir", work);

  const overlay::Layers notes_layers{{"A", "B"}, "upper", "work"};
  const std::string options = overlay::mount_options(notes_layers);
  step(fmt::format("mount(\"overlay\", \"C\", \"overlay\", 0, {})", lab::quote(options)),
       fmt::format("mount -t overlay overlay -o {} C", options));
  lab::Mount c_mount = overlay::mount_overlay(notes_layers, "C");
  say.say(
      "lowerdir A:B is read-only, A on top; every change goes to upper; work is the "
      "kernel's scratch dir");
  say.fact("options", options);
  const bool aufs = lab::host::kernel_has_filesystem("aufs");
  say.fact("aufs_available", aufs);
  std::vector<std::string> aufs_listing;
  if (aufs) {
    // Read-only branches, so that A and B stay as they are for the rest of the lesson.
    make_dir("C-aufs");
    lab::Mount aufs_mount = overlay::mount_aufs_read_only({"A", "B"}, "C-aufs");
    aufs_listing = overlay::list_dir("C-aufs");
    say.say(fmt::format("aufs is here too: mount -t aufs -o br=A=ro:B=ro none C-aufs shows {}",
                        words(aufs_listing)));
    say.fact("aufs_listing", aufs_listing);
  } else {
    say.say("aufs (the notes' mount -t aufs -o dirs=./A:./B none ./C) is not in this kernel:");
    say.say("it was never merged into mainline; overlayfs was, in Linux 3.18");
  }

  step("readdir(\"C\"), read(\"C/x\")", "ls C; cat C/x");
  const auto c_listing = overlay::list_dir("C");
  const std::string x_content = first_line("C/x");
  say.say(fmt::format("C holds {}: one x, and it says \"{}\" (the first lowerdir wins)",
                      words(c_listing), x_content));
  say.fact("c_listing", c_listing);
  say.fact("x_content", x_content);

  step("open(\"C/b\", O_WRONLY|O_TRUNC), write(\"b changed through C\")",
       "echo 'b changed through C' > C/b; cat upper/b B/b");
  const bool b_in_upper_before = exists("upper/b");
  put_file("C/b", "b changed through C");
  const std::string b_upper = first_line("upper/b");
  const std::string b_lower = first_line("B/b");
  say.say(fmt::format("copy-up: upper/b now says \"{}\"; B/b still says \"{}\"", b_upper, b_lower));
  say.fact("b_in_upper_before_write", b_in_upper_before);
  say.fact("b_upper_content", b_upper);
  say.fact("b_lower_content", b_lower);
  say.fact("b_via_c", first_line("C/b"));

  step("unlink(\"C/a\"), lstat(\"upper/a\")", "rm C/a; stat -c '%F %t:%T' upper/a");
  lab::check(::unlink("C/a"), "unlink(\"C/a\")");
  const auto whiteout = overlay::lstat_path("upper/a");
  const bool a_whiteout = whiteout && overlay::is_whiteout(*whiteout);
  const bool a_in_lower = exists("A/a");
  const auto c_after_delete = overlay::list_dir("C");
  say.say(fmt::format("upper/a is {}; A/a is {}; C holds {}",
                      a_whiteout ? "a whiteout: a character device 0/0" : "NOT a whiteout",
                      a_in_lower ? "still there" : "GONE", words(c_after_delete)));
  say.fact("a_whiteout", a_whiteout);
  if (whiteout)
    say.fact("a_whiteout_rdev",
             fmt::format("{}/{}", major(whiteout->st_rdev), minor(whiteout->st_rdev)));
  say.fact("a_still_in_lower", a_in_lower);
  say.fact("c_listing_after_delete", c_after_delete);

  step("open(\"C/new\", O_CREAT), write(\"new\")", "echo new > C/new; ls upper A B");
  put_file("C/new", "new");
  const bool new_in_upper = exists("upper/new");
  const bool new_in_lowers = exists("A/new") || exists("B/new");
  const auto upper_listing = overlay::list_dir("upper");
  say.say(fmt::format("upper holds {}; A holds {}; B holds {}", words(upper_listing),
                      words(overlay::list_dir("A")), words(overlay::list_dir("B"))));
  say.fact("new_in_upper", new_in_upper);
  say.fact("new_in_lowers", new_in_lowers);
  say.fact("upper_listing", upper_listing);

  say.heading("the Docker picture: image layers + init layer + rw layer = one rootfs");
  // Image layer 1 is the busybox rootfs itself: a lowerdir is never written to, so it can be used
  // as it is. Image layer 2 adds an app; the init layer holds what Docker writes per container.
  for (const char* dir :
       {"layers", "layers/app", "layers/app/app", "layers/init", "layers/init/etc", "layers/rw",
        "layers/rw/diff", "layers/rw/work", "rootfs"})
    make_dir(dir);
  put_file("layers/app/app/hello.sh", "#!/bin/sh\necho hello from the app layer", 0755);
  put_file("layers/init/etc/hostname", "lab-container");
  put_file("layers/init/etc/hosts", "127.0.0.1 localhost\n172.17.0.2 lab-container");
  put_file("layers/init/etc/resolv.conf", "nameserver 10.0.2.3");
  const overlay::Layers docker_layers{
      {"layers/init", "layers/app", base_layer}, "layers/rw/diff", "layers/rw/work"};
  const std::string rootfs_options = overlay::mount_options(docker_layers);
  step(
      fmt::format("mount(\"overlay\", \"rootfs\", \"overlay\", 0, {})", lab::quote(rootfs_options)),
      fmt::format("mount -t overlay overlay -o {} rootfs", rootfs_options));
  lab::Mount rootfs_mount = overlay::mount_overlay(docker_layers, "rootfs");
  say.say(fmt::format("image layer 1: {} (busybox); image layer 2: layers/app (/app/hello.sh)",
                      base_layer));
  say.say(
      "init layer: layers/init (/etc/hostname, /etc/hosts, /etc/resolv.conf); rw layer: "
      "layers/rw/diff (empty)");
  say.fact("rootfs_options", rootfs_options);

  step("read(\"/proc/self/mountinfo\")", "grep ' rootfs ' /proc/self/mountinfo");
  const auto mounts = lab::read_mountinfo();
  const lab::MountInfo* rootfs_info = lab::find_mount(mounts, work + "/rootfs");
  if (!rootfs_info) throw lab::UserError("the rootfs overlay is missing from /proc/self/mountinfo");
  const auto chain = overlay::split_lowerdir(rootfs_info->super_option("lowerdir"));
  const std::string upperdir = rootfs_info->super_option("upperdir");
  for (size_t i = 0; i < chain.size(); ++i)
    say.say(fmt::format("lowerdir {}: {}{}", i + 1, chain[i],
                        i == 0 ? "   (top: wins over the layers below)" : ""));
  say.say(fmt::format("upperdir:   {}   (the container's rw layer)", upperdir));
  const std::string hostname = first_line("rootfs/etc/hostname");
  const bool busybox_seen = exists("rootfs/bin/busybox");
  const bool app_seen = exists("rootfs/app/hello.sh");
  say.say(fmt::format(
      "rootfs/etc/hostname says \"{}\" (init layer over busybox's); "
      "rootfs/bin/busybox {}; rootfs/app/hello.sh {}",
      hostname, busybox_seen ? "is there" : "MISSING", app_seen ? "is there" : "MISSING"));
  say.fact("lowerdir_chain", chain);
  say.fact("upperdir", upperdir);
  say.fact("rootfs_hostname", hostname);
  say.fact("rootfs_has_busybox", busybox_seen);
  say.fact("rootfs_has_app", app_seen);

  step("write(\"rootfs/etc/hostname\"), rmdir(\"rootfs/app\") ..., mkdir(\"rootfs/app\")",
       "echo lab-web > rootfs/etc/hostname; rm -r rootfs/app; mkdir rootfs/app");
  put_file("rootfs/etc/hostname", "lab-web");
  fs::remove_all("rootfs/app");
  make_dir("rootfs/app");
  const auto rw_layer = overlay::list_tree("layers/rw/diff");
  const std::string opaque = overlay::read_opaque_xattr("layers/rw/diff/app");
  const auto rootfs_app = overlay::list_dir("rootfs/app");
  const auto app_layer = overlay::list_dir("layers/app/app");
  const std::string init_hostname = first_line("layers/init/etc/hostname");
  const std::string hostname_after = first_line("rootfs/etc/hostname");
  const std::string base_hostname = first_line(base_layer + "/etc/hostname");
  const bool base_has_app = exists(base_layer + "/app");
  say.say(fmt::format("the rw layer now holds: {}", words(rw_layer)));
  say.say(fmt::format(
      "layers/rw/diff/app has {}=\"{}\"{}: rootfs/app shows {}, though "
      "layers/app/app still holds {}",
      overlay::kOpaqueXattr, opaque, overlay::is_opaque(opaque) ? " (opaque)" : " (NOT opaque)",
      words(rootfs_app), words(app_layer)));
  say.say(
      fmt::format("layers/init/etc/hostname still says \"{}\"; docker commit would save "
                  "layers/rw/diff as a new image layer",
                  init_hostname));
  say.fact("rw_layer", rw_layer);
  say.fact("opaque_xattr", opaque);
  say.fact("rootfs_app_listing", rootfs_app);
  say.fact("app_layer_listing", app_layer);
  say.fact("init_hostname_after", init_hostname);
  say.fact("rootfs_hostname_after", hostname_after);
  say.fact("base_hostname_after", base_hostname);
  say.fact("base_has_app", base_has_app);

  if (opt.shell) {
    say.say(fmt::format("a shell in {}, in this mount namespace: try ls C upper; cat C/x;", work));
    say.say(
        "ls -l upper; getfattr -n trusted.overlay.opaque layers/rw/diff/app; "
        "chroot rootfs /bin/sh. exit to leave.");
    lab::Child shell = lab::clone_child(SIGCHLD, [] { return shell_in_child(); });
    shell.wait_foreground();
  }

  const bool kept = opt.keep || !opt.dir.empty();
  if (temp && opt.keep) temp->release();
  say.fact("kept", kept);
  if (kept)
    say.say(
        fmt::format("kept {}: the mounts are gone with the namespace, the layers stay "
                    "(rm -r it when done)",
                    work));

  const std::vector<std::string> abx = {"a", "b", "x"};
  const std::vector<std::string> expected_rw = {"app", "etc", "etc/hostname"};
  struct Claim {
    bool held;
    const char* what;
  };
  const Claim claims[] = {
      {c_listing == abx, "C holds exactly a, b, x"},
      {!aufs || aufs_listing == abx, "aufs on C-aufs shows exactly a, b, x too"},
      {x_content == "x from A", "x comes from A, the top lowerdir"},
      {!b_in_upper_before && b_upper == "b changed through C" && b_lower == "b from B",
       "writing b copies it up and leaves B/b alone"},
      {a_whiteout && a_in_lower && c_after_delete == std::vector<std::string>{"b", "x"},
       "deleting a leaves a 0/0 whiteout and A/a"},
      {new_in_upper && !new_in_lowers, "a new file lands in upper only"},
      {chain == docker_layers.lowerdirs && upperdir == docker_layers.upperdir,
       "mountinfo shows the lowerdir chain and the rw layer as upperdir, as mounted"},
      {hostname == "lab-container" && busybox_seen && app_seen, "the four layers merge"},
      {hostname_after == "lab-web" && rw_layer == expected_rw && overlay::is_opaque(opaque) &&
           rootfs_app.empty() && app_layer == std::vector<std::string>{"hello.sh"} &&
           init_hostname == "lab-container" && base_hostname != "lab-web" && !base_has_app,
       "the container's changes land in the rw layer only"},
  };
  for (const auto& claim : claims) {
    if (!claim.held) {
      say.verdict(false, fmt::format("expected: {}; see the steps above", claim.what));
      return 1;
    }
  }
  say.verdict(true,
              "C held a, b and one x (A's); changes went to upper as copy-ups, a whiteout and a "
              "new file; four layers made one rootfs whose changes all landed in the rw layer");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Lesson 05: union mounts. Mounts A{a,x} and B{b,x} on C with overlayfs (the notes used\n"
      "aufs: mount -t aufs -o dirs=./A:./B none ./C), shows copy-up, whiteouts and a new file\n"
      "landing in upper, then stacks image layers, an init layer and a rw layer into one rootfs\n"
      "the way Docker does. All mounts live in a private mount namespace.",
      "overlay"};
  app.add_option("--dir", opt.dir,
                 "work in DIR (empty or new) instead of a fresh /tmp/lab-overlay-XXXXXX, and "
                 "leave the layers there afterwards")
      ->check([](const std::string& dir) { return overlay::check_work_dir(dir); });
  app.add_flag("--keep", opt.keep,
               "keep the work dir (A, B, upper, layers) after the run; the mounts always go");
  app.add_flag("--shell", opt.shell,
               "leave you in a shell (bash if present) in the work dir with C and rootfs "
               "still mounted");
  lab::add_output_options(app, opt.output);
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;
  return lab::run_guarded("overlay", [&] { return run(opt); });
}
