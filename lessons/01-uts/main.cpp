// Lesson 01: a hostname of its own (the UTS namespace).
//
// What it shows: `unshare -u bash; hostname lab` changes the hostname inside the new namespace
// only; every other process on the host still sees the old name.
//
// The calls, in order:
//   parent: uname()                          read the host's name
//   parent: clone(CLONE_NEWUTS|SIGCHLD)      a child in a new UTS namespace (unshare -u)
//   child:  sethostname("lab"), setdomainname(...)
//   parent: uname() again, readlink /proc/{self,CHILD}/ns/uts while the child is still alive
// Man pages: uts_namespaces(7), clone(2), sethostname(2), uname(2), namespaces(7).
//
// Run it as root (or with sudo):  make && ./uts --hostname lab   (--shell, --help for all)
// Look for: the name inside is "lab", the name outside is unchanged, and the two ns/uts links
// have different inode numbers: two namespaces, one kernel.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sched.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "cli.hpp"
#include "error.hpp"
#include "host.hpp"
#include "narrator.hpp"
#include "process.hpp"
#include "uts.hpp"

namespace {

struct Options {
  std::string hostname = "lab";
  std::string domainname = "lab.example";
  bool shell = false;
  lab::OutputOptions output;
};

// --- the child's side: runs in the new UTS namespace ---------------------------------------------

// Sets the names, reports them to the parent, then waits for the parent to look from outside.
// With --shell it then becomes an interactive shell whose prompt shows the new name.
int child_main(const Options& opt, lab::Channel& channel) noexcept {
  try {
    uts::set_hostname_in_child(opt.hostname);
    uts::set_domainname_in_child(opt.domainname);
    channel.send_ok();
    // Each name is a message of its own: a name may hold any byte but NUL, a newline included.
    channel.send(uts::current_hostname());
    channel.send(uts::current_domainname());
    std::string go = channel.receive();  // "exit" or "shell" (or "" if the parent died)
    if (go != "shell") return 0;
    channel.close();
    // bash if present: its prompt escapes (\h) show the new name, and --norc keeps a user's
    // .bashrc from replacing PS1. A plain sh (dash) knows neither, so it gets the name spelled out.
    if (::access("/bin/bash", X_OK) == 0) {
      ::setenv("PS1", "[uts lesson] \\u@\\h:\\w\\$ ", 1);
      ::execl("/bin/bash", "bash", "--norc", "-i", static_cast<char*>(nullptr));
      lab::check(-1, "execl(\"/bin/bash\", \"bash\", \"--norc\", \"-i\")");
    }
    ::setenv("PS1", fmt::format("[uts lesson] {}# ", uts::current_hostname()).c_str(), 1);
    ::execl("/bin/sh", "sh", "-i", static_cast<char*>(nullptr));
    lab::check(-1, "execl(\"/bin/sh\", \"sh\", \"-i\")");
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

// --- the parent's side ---------------------------------------------------------------------------

int run(const Options& opt) {
  lab::host::require_root("./uts");
  lab::Narrator say("uts", opt.output.mode(), 4);

  say.step("uname()", "hostname");
  const std::string outside_before = uts::current_hostname();
  const std::string ns_outside = lab::namespace_link(0, "uts");
  say.say(fmt::format("the host is called {} (namespace {})", uts::c_literal(outside_before),
                      ns_outside));

  const unsigned long flags = CLONE_NEWUTS | SIGCHLD;
  say.step(fmt::format("clone({})", lab::clone_flags_to_string(flags)), "unshare -u");
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(flags, [&] {
    parent_end.close();
    return child_main(opt, child_end);
  });
  child_end.close();
  const std::string ns_inside = lab::namespace_link(child.pid(), "uts");
  say.say(fmt::format("child {} starts with a copy of the host's names, in namespace {}",
                      child.pid(), ns_inside));

  say.step(fmt::format("sethostname({}, {})  [in the child]", uts::c_literal(opt.hostname),
                       opt.hostname.size()),
           "hostname " + uts::shell_word(opt.hostname));
  parent_end.expect_ok("setting the names inside the new UTS namespace");
  const std::string inside = parent_end.receive_reply("reading the hostname inside");
  const std::string inside_domain = parent_end.receive_reply("reading the domain name inside");
  say.say(fmt::format("setdomainname({}) too: uname() inside now says nodename {}, domainname {}",
                      uts::c_literal(opt.domainname), uts::c_literal(inside),
                      uts::c_literal(inside_domain)));

  say.step("uname() outside, readlink(\"/proc/{self,CHILD}/ns/uts\")",
           fmt::format("hostname; readlink /proc/$$/ns/uts /proc/{}/ns/uts", child.pid()));
  const std::string outside_after = uts::current_hostname();
  // Read again now, while the child is alive and has set its names: the comparison that counts.
  const std::string ns_inside_now = lab::namespace_link(child.pid(), "uts");
  const std::string ns_outside_now = lab::namespace_link(0, "uts");
  say.say(fmt::format("inside: {}   outside: {} ({})", uts::shell_word(inside),
                      uts::shell_word(outside_after),
                      outside_after == outside_before ? "unchanged" : "CHANGED"));
  say.say(fmt::format("ns/uts inside: {}   outside: {} ({})", ns_inside_now, ns_outside_now,
                      ns_inside_now != ns_outside_now ? "two namespaces" : "the SAME namespace"));

  say.fact("requested_hostname", opt.hostname);
  say.fact("inside_hostname", inside);
  say.fact("inside_domainname", inside_domain);
  // The names exactly, byte for byte, as hex: JSON strings cannot hold bytes that are not UTF-8.
  say.fact("requested_hostname_hex", uts::hex(opt.hostname));
  say.fact("inside_hostname_hex", uts::hex(inside));
  say.fact("requested_domainname", opt.domainname);
  say.fact("requested_domainname_hex", uts::hex(opt.domainname));
  say.fact("inside_domainname_hex", uts::hex(inside_domain));
  say.fact("outside_hostname_before", outside_before);
  say.fact("outside_hostname_after", outside_after);
  say.fact("ns_inside", ns_inside_now);
  say.fact("ns_outside", ns_outside_now);
  say.fact("child_pid", child.pid());

  if (opt.shell) {
    say.say("a shell inside the namespace: try `hostname`, `hostname other`, `uname -n`;");
    say.say(
        "then in another terminal `hostname` shows the host's name is untouched. exit to leave.");
    parent_end.send("shell");
    child.wait_foreground();
  } else {
    parent_end.send("exit");
    child.wait();
  }

  // The verdict names every part of the claim that failed, so it never contradicts the facts.
  std::vector<std::string> failed;
  if (inside != opt.hostname)
    failed.push_back(fmt::format("the hostname inside is {}, not {}", uts::c_literal(inside),
                                 uts::c_literal(opt.hostname)));
  if (inside_domain != opt.domainname)
    failed.push_back(fmt::format("the domain name inside is {}, not {}",
                                 uts::c_literal(inside_domain), uts::c_literal(opt.domainname)));
  if (outside_after != outside_before)
    failed.push_back(fmt::format("the hostname outside changed from {} to {}",
                                 uts::c_literal(outside_before), uts::c_literal(outside_after)));
  if (ns_inside_now == ns_outside_now)
    failed.push_back(fmt::format("the child shares the host's UTS namespace {}", ns_outside_now));
  const bool held = failed.empty();
  std::string what =
      held ? fmt::format("the hostname is {} inside the new UTS namespace and still {} outside",
                         uts::c_literal(inside), uts::c_literal(outside_after))
           : fmt::format("{}", fmt::join(failed, "; "));
  return say.verdict(held, what) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Lesson 01: a hostname of its own. Clones a child into a new UTS namespace, sets its\n"
      "hostname there, and shows that the host's name is unchanged (like `unshare -u; hostname`).",
      "uts"};
  app.add_option("--hostname", opt.hostname, "the hostname to set inside (1-64 bytes)")
      ->capture_default_str()
      ->check([](const std::string& name) { return uts::validate_name(name); });
  app.add_option("--domainname", opt.domainname, "the NIS domain name to set inside (1-64 bytes)")
      ->capture_default_str()
      ->check([](const std::string& name) { return uts::validate_name(name); });
  app.add_flag(
      "--shell", opt.shell,
      "leave you in a shell (bash if present) inside the namespace; its prompt shows the new "
      "name");
  lab::add_output_options(app, opt.output);
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;
  return lab::run_guarded("uts", [&] { return run(opt); });
}
