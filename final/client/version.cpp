// version (Docker's `docker version`): the client's facts always; with -H (or DOCKER_HOST) the
// daemon's from GET /version, as Docker's CLI prints them; without, the engine is this process
// (the CLI does the jobs itself, as podman does) and there is no server to ask.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "daemon/router.hpp"
#include "daemon/routes.hpp"

namespace client {

namespace {

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
    field("  OS/Arch",
          detail("Os", v.value("Os", "")) + "/" + detail("Arch", v.value("Arch", "")));
    field("  Kernel version", detail("KernelVersion", v.value("KernelVersion", "")));
  }
  return 0;
}

}  // namespace

void add_version_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  app.add_subcommand("version", "the client's version, and the daemon's with -H")->callback([&] {
    action = [&] { return version(options); };
  });
}

}  // namespace client
