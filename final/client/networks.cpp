// The network verbs: network create, ls, rm, inspect, prune (final/network/driver.hpp does the
// work), connect and disconnect (through the engine: final/engine/networking.hpp). With -H each
// asks the daemon for the same job (POST /networks/create, GET /networks, ...: final/daemon/
// routes_resources.cpp) and prints its answer with the same code as its own.
// Three hidden verbs call the driver's endpoint API directly, for the tests and for a student
// who wants to see one step at a time before the engine's `run` does it for a container:
//   network _connect NETWORK CONTAINER_ID [--name NAME] [-p SPEC]... [--hosts FILE]
//   network _disconnect CONTAINER_ID
//   network _prune [--all]
#include <fmt/format.h>

#include <iostream>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "engine/networking.hpp"
#include "error.hpp"
#include "network/driver.hpp"

namespace client {

namespace {

network::Context context(const EngineOptions& options) {
  network::Context ctx{options.root, {}};
  if (options.explain) {
    auto narration = std::make_shared<Narration>(true);
    ctx.explain = [narration](std::string_view lesson, std::string_view call,
                              std::string_view shell) { narration->step(lesson, call, shell); };
  }
  return ctx;
}

// Docker's tables: minimum width 10, padding 3, the last column not padded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], std::max<size_t>(10, row[i].size() + 3));
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size(), ' ');
    }
    std::cout << line << '\n';
  }
}

bool remote(const EngineOptions& options) { return !options.host.empty(); }

api::DaemonClient daemon_of(const EngineOptions& options) {
  return api::DaemonClient(options.host, options.explain);
}

// A network's name or id as one segment of a URL path.
std::string path_of(const std::string& name) { return "/networks/" + api::url_escape(name); }

struct CreateOptions {
  std::string name, subnet;
};
struct ListOptions {
  bool quiet = false, no_trunc = false;
};
struct ConnectOptions {
  std::string network, container_id, name, hosts;
  std::vector<std::string> publish;
};

int create(const EngineOptions& options, const CreateOptions& opt) {
  std::string id;
  if (remote(options)) {
    // Docker's CLI sends the same body: the driver, and --subnet as the one IPAM config.
    nlohmann::json body = {{"Name", opt.name}, {"Driver", "bridge"}, {"CheckDuplicate", true}};
    if (!opt.subnet.empty())
      body["IPAM"] = {{"Driver", "default"},
                      {"Config", nlohmann::json::array({{{"Subnet", opt.subnet}}})}};
    id = nlohmann::json::parse(
             daemon_of(options).checked("POST", "/networks/create", body.dump()).body)
             .at("Id");
  } else {
    id = network::create_network(context(options), opt.name, opt.subnet).id;
  }
  std::cout << id << '\n';
  return 0;
}

// The networks as `network ls` shows them: id, name, driver.
struct Listed {
  std::string id, name, driver;
};

std::vector<Listed> listed_networks(const EngineOptions& options) {
  std::vector<Listed> out;
  if (remote(options)) {
    for (const auto& n : nlohmann::json::parse(daemon_of(options).checked("GET", "/networks").body))
      out.push_back({n.at("Id"), n.at("Name"), n.at("Driver")});
  } else {
    for (const auto& n : network::list_networks(context(options)))
      out.push_back({n.id, n.name, n.driver});
  }
  return out;
}

int list(const EngineOptions& options, const ListOptions& opt) {
  std::vector<std::vector<std::string>> rows;
  if (!opt.quiet) rows.push_back({"NETWORK ID", "NAME", "DRIVER", "SCOPE"});
  for (const auto& n : listed_networks(options)) {
    std::string id = opt.no_trunc ? n.id : n.id.substr(0, 12);
    if (opt.quiet)
      std::cout << id << '\n';
    else
      rows.push_back({id, n.name, n.driver, "local"});
  }
  if (!opt.quiet) print_table(rows);
  return 0;
}

int remove(const EngineOptions& options, const std::vector<std::string>& names) {
  int rc = 0;
  for (const auto& name : names) {
    try {
      if (remote(options))
        daemon_of(options).checked("DELETE", path_of(name));
      else
        network::remove_network(context(options), name);
      std::cout << name << '\n';
    } catch (const lab::UserError& e) {
      rc = report_user_error(e.what());
    }
  }
  return rc;
}

int inspect(const EngineOptions& options, const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::array();
  int rc = 0;
  for (const auto& name : names) {
    try {
      out.push_back(
          remote(options)
              ? nlohmann::json::parse(daemon_of(options).checked("GET", path_of(name)).body)
              : network::inspect_json(network::find_network(context(options), name)));
    } catch (const lab::UserError& e) {
      rc = report_user_error(e.what());
    }
  }
  std::cout << out.dump(4) << '\n';
  return rc;
}

int connect(const EngineOptions& options, const ConnectOptions& opt) {
  std::vector<network::PortMapping> ports;
  for (const auto& spec : opt.publish)
    for (const network::PortMapping& m : network::parse_port_mappings(spec)) ports.push_back(m);
  network::Endpoint e =
      network::connect(context(options), opt.network, opt.container_id, opt.name, ports, opt.hosts);
  nlohmann::json published = nlohmann::json::array();
  for (const auto& p : e.ports) published.push_back(network::describe(p));
  std::cout << nlohmann::json{{"NetnsPath", e.netns_path}, {"Network", e.network},
                              {"NetworkID", e.network_id}, {"IPAddress", e.ip},
                              {"IPPrefixLen", e.prefix},   {"Gateway", e.gateway},
                              {"MacAddress", e.mac},       {"Veth", e.veth},
                              {"Interface", e.interface},  {"Ports", published}}
                   .dump()
            << '\n';
  return 0;
}

}  // namespace

void add_network_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  auto* cmd = app.add_subcommand("network", "Manage networks");
  cmd->require_subcommand(1);

  static CreateOptions create_options;
  auto* create_cmd = cmd->add_subcommand("create", "Create a network");
  docker_args(create_cmd, "[OPTIONS] NETWORK", exactly(1));
  create_cmd->add_option("name", create_options.name, "the network's name")->required();
  create_cmd->add_option("--subnet", create_options.subnet,
                         "its subnet in CIDR form (default: the first free of 172.18-31.0.0/16, "
                         "192.168.0-240.0/20)");
  create_cmd->add_option(
      "--driver,-d",
      [](const std::vector<std::string>& v) {
        if (v.front() != "bridge")
          throw CLI::ValidationError("--driver", "only the bridge driver is supported");
        return true;
      },
      "bridge (the only driver)");
  create_cmd->callback([&] { action = [&] { return create(options, create_options); }; });

  static ListOptions list_options;
  auto add_list = [&](CLI::App* c) {
    c->add_flag("--quiet,-q", list_options.quiet, "network IDs only");
    c->add_flag("--no-trunc", list_options.no_trunc, "full network IDs");
    c->callback([&] { action = [&] { return list(options, list_options); }; });
  };
  auto* ls_cmd = cmd->add_subcommand("ls", "List networks")->alias("list");
  docker_args(ls_cmd, "[OPTIONS]", kNoArgs);
  add_list(ls_cmd);

  static std::vector<std::string> rm_names;
  auto* rm_cmd = cmd->add_subcommand("rm", "Remove one or more networks")->alias("remove");
  docker_args(rm_cmd, "NETWORK [NETWORK...]", at_least(1));
  rm_cmd->add_option("network", rm_names, "NAME or ID")->required();
  rm_cmd->callback([&] { action = [&] { return remove(options, rm_names); }; });

  static std::vector<std::string> inspect_names;
  auto* inspect_cmd =
      cmd->add_subcommand("inspect", "Display detailed information on one or more networks");
  docker_args(inspect_cmd, "[OPTIONS] NETWORK [NETWORK...]", at_least(1));
  inspect_cmd->add_option("network", inspect_names, "NAME or ID")->required();
  inspect_cmd->callback([&] { action = [&] { return inspect(options, inspect_names); }; });

  static std::string link_network, link_container;
  static bool disconnect_force = false;
  for (const char* verb : {"connect", "disconnect"}) {
    bool is_connect = std::string_view(verb) == "connect";
    auto* c = cmd->add_subcommand(verb, is_connect ? "Connect a container to a network"
                                                   : "Disconnect a container from a network");
    docker_args(c, "[OPTIONS] NETWORK CONTAINER", exactly(2));
    c->add_option("network", link_network, "NAME or ID")->required();
    c->add_option("container", link_container, "NAME or ID")->required();
    if (!is_connect) c->add_flag("--force,-f", disconnect_force, "(accepted, as Docker's)");
    c->callback([&, is_connect] {
      action = [&, is_connect] {
        if (remote(options)) {
          nlohmann::json body = {{"Container", link_container}};
          if (!is_connect) body["Force"] = disconnect_force;
          daemon_of(options).checked(
              "POST", path_of(link_network) + (is_connect ? "/connect" : "/disconnect"),
              body.dump());
          return 0;
        }
        engine::Paths paths = engine::paths_for(options.root, options.explain);
        if (is_connect)
          engine::connect_to(paths, link_network, link_container);
        else
          engine::disconnect_from(paths, link_network, link_container);
        return 0;
      };
    });
  }

  static bool prune_force = false;
  auto* prune_cmd_user = cmd->add_subcommand("prune", "Remove all unused networks");
  docker_args(prune_cmd_user, "[OPTIONS]", kNoArgs);
  prune_cmd_user->add_flag("--force,-f", prune_force, "do not ask");
  prune_cmd_user->callback([&] {
    action = [&] {
      if (!prune_force) {
        std::cout << "WARNING! This will remove all custom networks not used by at least one "
                     "container.\nAre you sure you want to continue? [y/N] "
                  << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y") return 0;
      }
      std::vector<std::string> names;
      if (remote(options)) {
        auto answer =
            nlohmann::json::parse(daemon_of(options).checked("POST", "/networks/prune").body);
        if (answer.value("NetworksDeleted", nlohmann::json()).is_array())
          names = answer["NetworksDeleted"].get<std::vector<std::string>>();
      } else {
        names = network::remove_unused_networks(context(options));
      }
      if (!names.empty()) {
        std::cout << "Deleted Networks:\n";
        for (const auto& name : names) std::cout << name << '\n';
      }
      return 0;
    };
  });

  // Hidden (group ""): the driver's endpoint API, one step at a time.
  static ConnectOptions connect_options;
  auto* connect_cmd = cmd->add_subcommand("_connect", "connect a container id (tests)");
  connect_cmd->group("");
  connect_cmd->add_option("network", connect_options.network, "NAME or ID")->required();
  connect_cmd->add_option("container", connect_options.container_id, "container id")->required();
  connect_cmd->add_option("--name", connect_options.name, "the container's name");
  connect_cmd->add_option("--publish,-p", connect_options.publish,
                          "[IP:][HOST[-END]]:CTR[-END][/tcp|/udp]");
  connect_cmd->add_option("--hosts", connect_options.hosts, "an /etc/hosts file to keep");
  connect_cmd->callback([&] { action = [&] { return connect(options, connect_options); }; });

  static std::string disconnect_id;
  auto* disconnect_cmd = cmd->add_subcommand("_disconnect", "disconnect a container id (tests)");
  disconnect_cmd->group("");
  disconnect_cmd->add_option("container", disconnect_id, "container id")->required();
  disconnect_cmd->callback([&] {
    action = [&] {
      network::disconnect(context(options), disconnect_id);
      return 0;
    };
  });

  static std::string hosts_id;
  auto* hosts_cmd = cmd->add_subcommand("_hosts", "a container's /etc/hosts entries (tests)");
  hosts_cmd->group("");
  hosts_cmd->add_option("container", hosts_id, "container id")->required();
  hosts_cmd->callback([&] {
    action = [&] {
      for (const auto& line : network::hosts_entries(context(options), hosts_id))
        std::cout << line << '\n';
      return 0;
    };
  });

  static bool prune_all = false;
  auto* prune_cmd = cmd->add_subcommand("_prune", "remove endpoints (tests, recovery)");
  prune_cmd->group("");
  prune_cmd->add_flag("--all", prune_all, "also every network, bridge and chain");
  prune_cmd->callback([&] {
    action = [&] {
      // Without the engine's containers, every endpoint counts as alive unless --all.
      for (const auto& line : network::prune(
               context(options), [](const std::string&) { return true; }, prune_all))
        std::cout << line << '\n';
      return 0;
    };
  });
}

}  // namespace client
