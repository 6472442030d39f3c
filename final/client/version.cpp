// version and info (Docker's `docker version`, `docker info`). version: the client's facts always;
// with -H (or DOCKER_HOST) the daemon's from GET /version, as Docker's CLI prints them; without,
// the engine is this process (the CLI does the jobs itself, as podman does) and there is no server
// to ask. info prints the engine's facts (GET /info's, which are engine_info_json's in-process too)
// as Docker's CLI does.
#include <fmt/format.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "daemon/router.hpp"
#include "daemon/routes.hpp"
#include "engine/containers.hpp"
#include "graph/driver.hpp"
#include "host.hpp"

namespace client {

namespace {

std::string os_release_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("PRETTY_NAME=")) {
      std::string value = line.substr(12);
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
  return "Linux";
}

// Docker's template goes through text/tabwriter (minwidth 20, padding 1): the values start at
// column 20.
void field(std::string_view label, std::string_view value) {
  std::cout << fmt::format("{:<19} {}\n", std::string(label) + ":", value);
}

int version(const EngineOptions& options) {
  std::cout << "Client:\n";
  field(" Version", api::kServerVersion);  // one executable: the client's version is the daemon's
  field(" API version", api::kApiVersion);
  field(" Go version", "none (C++20)");
  field(" OS/Arch", "linux/" + graph::go_architecture());
  std::cout << std::flush;
  if (options.host.empty()) {
    std::cout << "\nServer: none: the engine runs in this process (no -H, no DOCKER_HOST)\n";
    return 0;
  }
  nlohmann::json v = nlohmann::json::parse(
      api::DaemonClient(options.host, options.explain).checked("GET", "/version").body);
  nlohmann::json platform = v.value("Platform", nlohmann::json::object());
  std::string name = platform.is_object() ? platform.value("Name", "") : "";
  std::cout << "\nServer:" << (name.empty() ? "" : " " + name) << '\n';
  for (const nlohmann::json& c : v.value("Components", nlohmann::json::array())) {
    nlohmann::json details = c.value("Details", nlohmann::json::object());
    auto detail = [&](const char* key, const std::string& fallback = "") {
      return details.is_object() && details.contains(key) && details[key].is_string()
                 ? details[key].get<std::string>()
                 : fallback;
    };
    std::cout << ' ' << c.value("Name", "") << ":\n";
    field("  Version", c.value("Version", ""));
    if (c.value("Name", "") != "Engine") {
      if (details.is_object())
        for (const auto& [key, value] : details.items())
          field("  " + key, value.is_string() ? value.get<std::string>() : value.dump());
      continue;
    }
    // Docker's Engine lines; what our daemon's Details leave out comes from the answer's top.
    field("  API version",
          fmt::format("{} (minimum version {})", detail("ApiVersion", v.value("ApiVersion", "")),
                      detail("MinAPIVersion", v.value("MinAPIVersion", ""))));
    field("  Go version", detail("GoVersion", v.value("GoVersion", "")));
    field("  OS/Arch", detail("Os", v.value("Os", "")) + "/" + detail("Arch", v.value("Arch", "")));
    field("  Kernel version", detail("KernelVersion", v.value("KernelVersion", "")));
  }
  return 0;
}

// Docker's units.BytesSize: powers of 1024, four significant digits ("1.944GiB").
std::string binary_size(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t i = 0;
  while (bytes >= 1024 && i + 1 < std::size(units)) {
    bytes /= 1024;
    ++i;
  }
  return fmt::format("{:.4g}{}", bytes, units[i]);
}

// `docker info`'s Server section from GET /info's facts (the same facts in-process).
void print_info(const nlohmann::json& j) {
  auto text = [&](const char* key) {
    return j.contains(key) ? (j[key].is_string() ? j[key].get<std::string>() : j[key].dump()) : "";
  };
  auto words = [&](const nlohmann::json& list) {
    std::string out;
    if (list.is_array())
      for (const auto& w : list) out += (out.empty() ? "" : " ") + w.get<std::string>();
    return out;
  };
  std::cout << "Server:\n";
  std::cout << " Containers: " << text("Containers") << '\n';
  std::cout << "  Running: " << text("ContainersRunning") << '\n';
  std::cout << "  Paused: " << text("ContainersPaused") << '\n';
  std::cout << "  Stopped: " << text("ContainersStopped") << '\n';
  std::cout << " Images: " << text("Images") << '\n';
  std::cout << " Server Version: " << text("ServerVersion") << '\n';
  std::cout << " Storage Driver: " << text("Driver") << '\n';
  std::cout << " Logging Driver: " << text("LoggingDriver") << '\n';
  std::cout << " Cgroup Driver: " << text("CgroupDriver") << '\n';
  std::cout << " Cgroup Version: " << text("CgroupVersion") << '\n';
  nlohmann::json plugins = j.value("Plugins", nlohmann::json::object());
  std::cout << " Plugins:\n";
  for (const char* kind : {"Volume", "Network", "Log"})
    std::cout << "  " << kind << ": " << words(plugins.value(kind, nlohmann::json::array()))
              << '\n';
  nlohmann::json swarm = j.value("Swarm", nlohmann::json::object());
  std::cout << " Swarm: " << swarm.value("LocalNodeState", "inactive") << '\n';
  std::string runtimes;
  nlohmann::json listed = j.value("Runtimes", nlohmann::json::object());
  for (const auto& [name, _] : listed.items()) runtimes += (runtimes.empty() ? "" : " ") + name;
  std::cout << " Runtimes: " << runtimes << '\n';
  std::cout << " Default Runtime: " << text("DefaultRuntime") << '\n';
  std::cout << " Init Binary: " << text("InitBinary") << '\n';
  // "name=seccomp,profile=default" -> "seccomp", then "Profile: default", as Docker's CLI.
  std::cout << " Security Options:\n";
  nlohmann::json security = j.value("SecurityOptions", nlohmann::json::array());
  for (const auto& option : security) {
    std::string rest = option.get<std::string>();
    for (size_t at = 0; at <= rest.size();) {
      size_t comma = std::min(rest.find(',', at), rest.size());
      std::string kv = rest.substr(at, comma - at);
      size_t eq = kv.find('=');
      std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key == "name") {
        std::cout << "  " << value << '\n';
      } else if (!key.empty()) {
        key[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(key[0])));
        std::cout << "   " << key << ": " << value << '\n';
      }
      at = comma + 1;
    }
  }
  std::cout << " Kernel Version: " << text("KernelVersion") << '\n';
  std::cout << " Operating System: " << text("OperatingSystem") << '\n';
  std::cout << " OSType: " << text("OSType") << '\n';
  std::cout << " Architecture: " << text("Architecture") << '\n';
  std::cout << " CPUs: " << text("NCPU") << '\n';
  std::cout << " Total Memory: "
            << binary_size(static_cast<double>(j.value("MemTotal", uint64_t{0}))) << '\n';
  std::cout << " Name: " << text("Name") << '\n';
  std::cout << " Docker Root Dir: " << text("DockerRootDir") << '\n';
  std::cout << " Debug Mode: " << text("Debug") << '\n';
  std::cout << " Live Restore Enabled: " << text("LiveRestoreEnabled") << '\n';
}

int info(const EngineOptions& options) {
  // Docker's Client section has its context and plugins; ours, where the engine is.
  std::cout << "Client:\n Context:    "
            << (options.host.empty() ? "none: the engine runs in this process" : options.host)
            << "\n Debug Mode: false\n\n"
            << std::flush;
  print_info(
      options.host.empty()
          ? engine_info_json(options)
          : nlohmann::json::parse(
                api::DaemonClient(options.host, options.explain).checked("GET", "/info").body));
  return 0;
}

}  // namespace

nlohmann::json engine_info_json(const EngineOptions& options) {
  using json = nlohmann::json;
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  int running = 0, paused = 0, stopped = 0;
  std::vector<engine::Container> containers = engine::list(paths);
  for (const engine::Container& c : containers) {
    if (c.status == "running" && c.paused) {
      ++paused;
    } else if (c.status == "running") {
      ++running;
    } else {
      ++stopped;
    }
  }
  size_t images = 0;
  {
    auto store = open_store(options);
    auto lock = store->lock(graph::LockMode::shared);
    images = store->list_images().size();
  }
  utsname u{};
  ::uname(&u);
  struct sysinfo si {};
  ::sysinfo(&si);
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  lab::host::CgroupMode mode = lab::host::detect_cgroups().mode;
  return {
      {"ID", ""},
      {"Containers", containers.size()},
      {"ContainersRunning", running},
      {"ContainersPaused", paused},
      {"ContainersStopped", stopped},
      {"Images", images},
      {"Driver", graph::driver_name(graph::choose_driver(options.root))},
      {"DriverStatus", json::array()},
      {"Plugins",
       {{"Volume", {"local"}}, {"Network", {"bridge", "host", "none"}}, {"Log", {"json-file"}}}},
      {"MemoryLimit", true},
      {"SwapLimit", false},
      {"CpuCfsPeriod", true},
      {"CpuCfsQuota", true},
      {"CPUShares", true},  // --cpu-shares
      {"PidsLimit", true},
      {"IPv4Forwarding", true},
      {"Debug", false},
      {"NFd", 0},
      {"NGoroutines", 0},
      {"SystemTime", graph::rfc3339_now()},
      {"LoggingDriver", "json-file"},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", mode == lab::host::CgroupMode::v2 ? "2" : "1"},
      {"KernelVersion", u.release},
      {"OperatingSystem", os_release_name()},
      {"OSType", "linux"},
      {"Architecture", u.machine},
      {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
      {"MemTotal", static_cast<uint64_t>(si.totalram) * si.mem_unit},
      {"Name", hostname},
      {"ServerVersion", api::kServerVersion},
      {"DockerRootDir", paths.root},
      {"Runtimes", {{"minirunc", {{"path", paths.minirunc}}}, {"runc", {{"path", "runc"}}}}},
      {"DefaultRuntime", "minirunc"},
      {"Swarm", {{"LocalNodeState", "inactive"}, {"ControlAvailable", false}}},
      {"LiveRestoreEnabled", false},
      {"Isolation", ""},
      {"InitBinary", "docker-init"},
      {"SecurityOptions", json::array({"name=seccomp,profile=default"})},
      {"Warnings", json::array()},
  };
}

void add_version_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  auto* version_cmd = app.add_subcommand("version", "Show the Docker version information");
  docker_args(version_cmd, "[OPTIONS]", kNoArgs);
  version_cmd->callback([&] { action = [&] { return version(options); }; });
  auto* info_cmd = app.add_subcommand("info", "Display system-wide information");
  docker_args(info_cmd, "[OPTIONS]", kNoArgs);
  info_cmd->callback([&] { action = [&] { return info(options); }; });
}

}  // namespace client
