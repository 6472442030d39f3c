// The container routes' pure half (final/daemon/container_api.hpp): Docker's create body as the
// CLI's flags, and the 8-byte stream frames.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "daemon/container_api.hpp"
#include "error.hpp"

namespace {

using nlohmann::json;

TEST(DaemonContainerApi, CpusTextIsWhatDockerCpusWouldType) {
  struct Case {
    int64_t nano;
    const char* text;
  } cases[] = {{1000000000, "1"},  {1500000000, "1.5"},  {500000000, "0.5"},
               {10000000, "0.01"}, {2250000000, "2.25"}, {1, "0.000000001"}};
  for (const auto& c : cases) EXPECT_EQ(api::cpus_text(c.nano), c.text) << c.nano;
}

TEST(DaemonContainerApi, StrslicesAndTheClientsEnvironment) {
  EXPECT_EQ(api::strings_of(json::parse(R"(["sh","-c","echo"])")),
            (std::vector<std::string>{"sh", "-c", "echo"}));
  EXPECT_EQ(api::strings_of(json("echo hi")), (std::vector<std::string>{"echo hi"}));
  EXPECT_TRUE(api::strings_of(json()).empty());
  // A bare KEY is a variable the client did not have: never looked up in the daemon's.
  EXPECT_EQ(api::client_env(json::parse(R"(["A=1","HOME","B=x=y","C="])")),
            (std::vector<std::string>{"A=1", "B=x=y", "C="}));
}

TEST(DaemonContainerApi, CreateBodyBecomesTheCliFlags) {
  json body = json::parse(R"({
    "Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=1"], "WorkingDir": "/tmp",
    "User": "nobody", "Hostname": "h", "Tty": true, "OpenStdin": true,
    "Labels": {"k": "v"}, "Volumes": {"/anon": {}},
    "HostConfig": {
      "Binds": ["/host:/ctr:ro"], "Memory": 67108864, "MemorySwap": -1, "NanoCpus": 500000000,
      "CpuShares": 512, "PidsLimit": 20, "NetworkMode": "default", "AutoRemove": true,
      "ReadonlyRootfs": true, "CapAdd": ["NET_ADMIN"], "CapDrop": ["ALL"], "Init": true,
      "Tmpfs": {"/run": "", "/scratch": "size=1m"},
      "Mounts": [{"Type": "bind", "Source": "/s", "Target": "/t", "ReadOnly": true}],
      "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                       "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]},
      "RestartPolicy": {"Name": "no"}, "Runtime": "runc"}})");
  engine::CreateRequest r = api::create_request(body, "web");
  EXPECT_EQ(r.name, "web");
  EXPECT_EQ(r.image, "busybox");
  const exec::RunOptions& o = r.options;
  EXPECT_EQ(o.command, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_FALSE(o.entrypoint);
  EXPECT_EQ(o.env, (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(o.workdir, "/tmp");
  EXPECT_EQ(o.user, "nobody");
  EXPECT_EQ(o.hostname, "h");
  EXPECT_TRUE(o.tty);
  EXPECT_TRUE(o.interactive);
  EXPECT_EQ(r.labels, (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_EQ(o.volumes, (std::vector<std::string>{"/host:/ctr:ro", "/anon"}));
  EXPECT_EQ(o.mounts, (std::vector<std::string>{"type=bind,source=/s,target=/t,readonly"}));
  EXPECT_EQ(o.tmpfs, (std::vector<std::string>{"/run", "/scratch:size=1m"}));
  EXPECT_EQ(o.memory, "67108864");
  EXPECT_EQ(o.memory_swap, "-1");
  EXPECT_EQ(o.cpus, "0.5");
  EXPECT_EQ(o.cpu_shares, "512");
  EXPECT_EQ(o.pids_limit, "20");
  EXPECT_EQ(o.network, "bridge");
  EXPECT_EQ(r.publish, (std::vector<std::string>{"127.0.0.1:5353:53/udp", "8080:80/tcp"}));
  EXPECT_TRUE(r.auto_remove);
  EXPECT_TRUE(o.read_only);
  EXPECT_EQ(o.cap_add, (std::vector<std::string>{"NET_ADMIN"}));
  EXPECT_EQ(o.cap_drop, (std::vector<std::string>{"ALL"}));
  EXPECT_TRUE(o.init);
  EXPECT_EQ(r.runtime, "runc");
}

TEST(DaemonContainerApi, WhatTheClientLeavesOutIsNotGiven) {
  engine::CreateRequest r =
      api::create_request(json::parse(R"({"Image": "busybox", "Cmd": null, "Entrypoint": null,
                      "HostConfig": {"Memory": 0, "MemorySwap": 0, "NanoCpus": 0,
                                     "PidsLimit": null, "NetworkMode": "none", "Init": null,
                                     "Runtime": "minirunc"}})"),
                          "");
  EXPECT_TRUE(r.options.command.empty());
  EXPECT_FALSE(r.options.entrypoint);
  EXPECT_EQ(r.options.memory, "");
  EXPECT_EQ(r.options.memory_swap, "");
  EXPECT_EQ(r.options.cpus, "");
  EXPECT_EQ(r.options.pids_limit, "");
  EXPECT_EQ(r.options.network, "none");
  EXPECT_FALSE(r.options.init);
  EXPECT_EQ(r.runtime, "");  // our own runtime, by the name `docker info` shows
}

TEST(DaemonContainerApi, AVolumeThatABindNamesIsTheBinds) {
  // docker-py's volumes={...} sends the bind and the same path in Config.Volumes: one mount.
  engine::CreateRequest r = api::create_request(
      json::parse(R"({"Image": "busybox", "Volumes": {"/data": {}, "/anon": {}, "/t": {}},
                      "HostConfig": {"Binds": ["/srv/data:/data:ro"], "Tmpfs": {"/t": ""}}})"),
      "");
  EXPECT_EQ(r.options.volumes, (std::vector<std::string>{"/srv/data:/data:ro", "/anon"}));
}

TEST(DaemonContainerApi, EntrypointsAsDockersFlag) {
  auto with = [](const char* entrypoint) {
    json body = {{"Image", "busybox"}, {"Cmd", {"x"}}, {"Entrypoint", json::parse(entrypoint)}};
    return api::create_request(body, "").options;
  };
  // --entrypoint "": none (and the image's Cmd dropped, by the engine).
  exec::RunOptions o = with(R"([""])");
  ASSERT_TRUE(o.entrypoint);
  EXPECT_EQ(*o.entrypoint, "");
  o = with(R"(["sh"])");
  EXPECT_EQ(*o.entrypoint, "sh");
  EXPECT_EQ(o.command, (std::vector<std::string>{"x"}));
  // More than one word: the rest goes before the command, the same process.
  o = with(R"(["sh", "-c"])");
  EXPECT_EQ(*o.entrypoint, "sh");
  EXPECT_EQ(o.command, (std::vector<std::string>{"-c", "x"}));
  o = with("[]");
  EXPECT_FALSE(o.entrypoint);
}

TEST(DaemonContainerApi, CpuQuotaIsTheSameShareAsCpus) {
  auto cpus = [](int64_t quota, int64_t period) {
    json body = {{"Image", "busybox"},
                 {"HostConfig", {{"CpuQuota", quota}, {"CpuPeriod", period}}}};
    return api::create_request(body, "").options.cpus;
  };
  EXPECT_EQ(cpus(50000, 100000), "0.5");
  EXPECT_EQ(cpus(50000, 0), "0.5");  // Docker's default period
  EXPECT_EQ(cpus(25000, 50000), "0.5");
  EXPECT_EQ(cpus(200000, 100000), "2");
}

TEST(DaemonContainerApi, RefusesWhatTheCliRefuses) {
  EXPECT_THROW(api::create_request(json::parse(R"({"Image":"busybox",
                                                 "HostConfig":{"Privileged":true}})"),
                                   ""),
               lab::UserError);
  EXPECT_THROW(api::create_request(json::parse(R"({"Cmd":["true"]})"), ""), lab::UserError);
}

TEST(DaemonContainerApi, RestartPolicyBecomesTheFlagsText) {
  auto restart = [](const char* policy) {
    json body = json::parse(R"({"Image":"busybox","HostConfig":{}})");
    body["HostConfig"]["RestartPolicy"] = json::parse(policy);
    return api::create_request(body, "").restart;
  };
  EXPECT_EQ(restart(R"({"Name":"always"})"), "always");
  EXPECT_EQ(restart(R"({"Name":"on-failure","MaximumRetryCount":3})"), "on-failure:3");
  EXPECT_EQ(restart(R"({"Name":"on-failure","MaximumRetryCount":0})"), "on-failure");
  EXPECT_EQ(restart(R"({"Name":"","MaximumRetryCount":0})"), "");
  EXPECT_EQ(restart(R"({"Name":"no"})"), "");
}

TEST(DaemonContainerApi, DefaultTagInMessages) {
  EXPECT_EQ(api::with_default_tag("busybox"), "busybox:latest");
  EXPECT_EQ(api::with_default_tag("busybox:1.36"), "busybox:1.36");
  EXPECT_EQ(api::with_default_tag("localhost:5000/app"), "localhost:5000/app:latest");
  EXPECT_EQ(api::with_default_tag("app@sha256:abc"), "app@sha256:abc");
}

TEST(DaemonContainerApi, FramesAreDockersEightByteHeaders) {
  std::string f = api::frame('1', "hi\n");
  ASSERT_EQ(f.size(), 11u);
  EXPECT_EQ(f.substr(0, 8), std::string("\x01\0\0\0\0\0\0\x03", 8));
  EXPECT_EQ(f.substr(8), "hi\n");
  f = api::frame('2', std::string(70000, 'x'));
  // 70000 = 0x00011170, big-endian.
  EXPECT_EQ(f.substr(0, 8), std::string("\x02\0\0\0\x00\x01\x11\x70", 8));
  EXPECT_EQ(f.size(), 70008u);
}

}  // namespace

namespace {

TEST(DaemonContainerApi, GoFileModesAsDockersStat) {
  EXPECT_EQ(api::go_file_mode(S_IFREG | 0644), 0644u);
  EXPECT_EQ(api::go_file_mode(S_IFDIR | 0755), (1u << 31) | 0755u);
  EXPECT_EQ(api::go_file_mode(S_IFLNK | 0777), (1u << 27) | 0777u);
  EXPECT_EQ(api::go_file_mode(S_IFCHR | 0666), (1u << 26) | (1u << 21) | 0666u);
  EXPECT_EQ(api::go_file_mode(S_IFDIR | S_ISVTX | 0777), (1u << 31) | (1u << 20) | 0777u);
  EXPECT_EQ(api::go_file_mode(S_IFREG | S_ISUID | 0755), (1u << 23) | 0755u);
}

TEST(DaemonContainerApi, PathStatHeaderIsBase64Json) {
  engine::PathStat stat;
  stat.name = "hostname";
  stat.size = 13;
  stat.mode = S_IFREG | 0644;
  stat.mtime_ns = 1700000000123456789;
  // {"linkTarget":"","mode":420,"mtime":"2023-11-14T22:13:20.123456789Z","name":"hostname",
  //  "size":13}, as `base64 -w0` encodes it.
  EXPECT_EQ(api::path_stat_header(stat),
            "eyJsaW5rVGFyZ2V0IjoiIiwibW9kZSI6NDIwLCJtdGltZSI6IjIwMjMtMTEtMTRUMjI6MTM6MjAuMTIzNDU2"
            "Nzg5WiIsIm5hbWUiOiJob3N0bmFtZSIsInNpemUiOjEzfQ==");
}

}  // namespace

// Our own client's body (create_body) read back by the daemon's create_request: the same flags.
TEST(DaemonContainerApiClient, CreateBodyReadsBackAsTheSameFlags) {
  engine::CreateRequest r;
  r.image = "busybox";
  r.auto_remove = true;
  r.publish = {"8080:80", "127.0.0.1:53:53/udp"};
  exec::RunOptions& o = r.options;
  o.command = {"sh", "-c", "echo hi"};
  o.entrypoint = "/bin/env";
  o.env = {"A=1", "B=x=y"};
  o.workdir = "/tmp";
  o.user = "1000:1000";
  o.hostname = "box";
  o.network = "none";
  o.interactive = true;
  o.read_only = true;
  o.init = true;
  o.cap_add = {"NET_ADMIN"};
  o.cap_drop = {"CHOWN"};
  o.memory = "64m";
  o.cpus = "0.5";
  o.cpu_shares = "512";
  o.pids_limit = "100";
  o.volumes = {"/host:/data:ro", "/anonymous"};
  o.tmpfs = {"/run:size=1m", "/scratch"};
  json body = api::create_body(r);
  EXPECT_EQ(body["HostConfig"]["Memory"], 67108864);
  EXPECT_EQ(body["HostConfig"]["NanoCpus"], 500000000);
  EXPECT_EQ(body["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  EXPECT_EQ(body["HostConfig"]["PortBindings"]["53/udp"][0]["HostIp"], "127.0.0.1");
  engine::CreateRequest back = api::create_request(body, "web");
  EXPECT_EQ(back.name, "web");
  EXPECT_EQ(back.image, "busybox");
  EXPECT_TRUE(back.auto_remove);
  std::vector<std::string> publish = back.publish;
  std::sort(publish.begin(), publish.end());
  EXPECT_EQ(publish, (std::vector<std::string>{"127.0.0.1:53:53/udp", "8080:80/tcp"}));
  const exec::RunOptions& b = back.options;
  EXPECT_EQ(b.command, o.command);
  EXPECT_EQ(b.entrypoint, o.entrypoint);
  EXPECT_EQ(b.env, o.env);
  EXPECT_EQ(b.workdir, o.workdir);
  EXPECT_EQ(b.user, o.user);
  EXPECT_EQ(b.hostname, o.hostname);
  EXPECT_EQ(b.network, "none");
  EXPECT_TRUE(b.interactive);
  EXPECT_TRUE(b.read_only);
  EXPECT_TRUE(b.init);
  EXPECT_EQ(b.cap_add, o.cap_add);
  EXPECT_EQ(b.cap_drop, o.cap_drop);
  EXPECT_EQ(b.memory, "67108864");
  EXPECT_EQ(b.cpus, "0.5");
  EXPECT_EQ(b.cpu_shares, "512");
  EXPECT_EQ(b.pids_limit, "100");
  EXPECT_EQ(b.volumes, (std::vector<std::string>{"/host:/data:ro", "/anonymous"}));
  EXPECT_EQ(b.tmpfs, (std::vector<std::string>{"/run:size=1m", "/scratch"}));
  // What the CLI refuses is refused before anything is sent, in its words.
  o.memory = "1k";
  EXPECT_THROW(api::create_body(r), lab::UserError);
  o.memory.clear();
  o.env_files = {"env.list"};
  EXPECT_THROW(api::create_body(r), lab::UserError);
}

// --mount through a daemon: HostConfig.Mounts as Docker's CLI sends it, read back by the daemon
// as the same --mount (its propagation, nocopy, tmpfs size and mode included).
TEST(DaemonContainerApiClient, MountsGoAsHostConfigMountsAndComeBackAsTheSameFlags) {
  struct Case {
    const char* flag;
    const char* json;
    const char* back;
  } cases[] = {
      {"type=bind,source=/srv/data,target=/data,readonly",
       R"({"Type":"bind","Source":"/srv/data","Target":"/data","ReadOnly":true})",
       "type=bind,source=/srv/data,target=/data,readonly"},
      {"type=bind,src=/srv,dst=/srv,bind-propagation=rshared",
       R"({"Type":"bind","Source":"/srv","Target":"/srv","BindOptions":{"Propagation":"rshared"}})",
       "type=bind,source=/srv,target=/srv,bind-propagation=rshared"},
      {"source=cache,target=/cache,volume-nocopy",
       R"({"Type":"volume","Source":"cache","Target":"/cache","VolumeOptions":{"NoCopy":true}})",
       "type=volume,source=cache,target=/cache,volume-nocopy"},
      {"type=volume,target=/anon", R"({"Type":"volume","Source":"","Target":"/anon"})",
       "type=volume,target=/anon"},
      // 1777: Go's ModeSticky is 1<<20 (1049087 = 1<<20 | 0777).
      {"type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1777",
       R"({"Type":"tmpfs","Source":"","Target":"/scratch",
           "TmpfsOptions":{"SizeBytes":1048576,"Mode":1049087}})",
       "type=tmpfs,target=/scratch,tmpfs-size=1048576,tmpfs-mode=1777"},
      {"type=tmpfs,target=/ro,readonly",
       R"({"Type":"tmpfs","Source":"","Target":"/ro","ReadOnly":true})",
       "type=tmpfs,target=/ro,readonly"},
  };
  for (const auto& c : cases) {
    engine::CreateRequest r;
    r.image = "busybox";
    r.options.mounts = {c.flag};
    json body = api::create_body(r);
    ASSERT_TRUE(body["HostConfig"].contains("Mounts")) << c.flag;
    EXPECT_EQ(body["HostConfig"]["Mounts"][0], json::parse(c.json)) << c.flag;
    engine::CreateRequest back = api::create_request(body, "");
    EXPECT_EQ(back.options.mounts, (std::vector<std::string>{c.back})) << c.flag;
    // The flag read back is the same mount as the one typed.
    engine::MountSpec typed = engine::parse_mount_spec(c.flag);
    engine::MountSpec read = engine::parse_mount_spec(back.options.mounts[0]);
    EXPECT_EQ(read.type, typed.type);
    EXPECT_EQ(read.source, typed.source);
    EXPECT_EQ(read.destination, typed.destination);
    EXPECT_EQ(read.read_only, typed.read_only);
    EXPECT_EQ(read.propagation, typed.propagation);
    EXPECT_EQ(read.nocopy, typed.nocopy);
    EXPECT_EQ(read.tmpfs_data, typed.tmpfs_data);
  }
  // A --mount the CLI refuses is refused before anything is sent, in its words.
  engine::CreateRequest r;
  r.image = "busybox";
  r.options.mounts = {"type=bind,target=/x"};
  EXPECT_THROW(api::create_body(r), lab::UserError);
}

// cp through a daemon: the stat header our daemon sends is read back by our client as what the
// path is (a directory, a symlink and its target, the permission bits with the special ones).
TEST(DaemonContainerApiClient, PathStatHeaderReadsBack) {
  struct Case {
    mode_t mode;
    bool dir, link;
    uint32_t permissions;
  } cases[] = {{S_IFDIR | 0755, true, false, 0755},
               {S_IFREG | 04711, false, false, 04711},
               {S_IFDIR | 01777, true, false, 01777},
               {S_IFLNK | 0777, false, true, 0777}};
  for (const auto& c : cases) {
    engine::PathStat stat;
    stat.name = "x";
    stat.mode = c.mode;
    stat.link_target = c.link ? "/etc/hostname" : "";
    auto back = api::parse_path_stat_header(api::path_stat_header(stat));
    ASSERT_TRUE(back) << c.mode;
    EXPECT_EQ(back->name, "x");
    EXPECT_EQ(back->is_dir, c.dir) << c.mode;
    EXPECT_EQ(back->is_symlink, c.link) << c.mode;
    EXPECT_EQ(back->permissions, c.permissions) << c.mode;
    EXPECT_EQ(back->link_target, stat.link_target);
  }
  EXPECT_FALSE(api::parse_path_stat_header("not base64 json"));
}

// Where a copy lands (engine::landing), Docker's table, shared by the in-process cp and our
// client's halves of a cp through a daemon.
TEST(DaemonContainerApiClient, CopyLandsByDockersRules) {
  using engine::DestKind;
  struct Case {
    bool src_dir;
    const char *src, *dest;
    DestKind kind;
    bool in_parent;
    const char* name;
    bool make_dir;
  } cases[] = {
      {false, "/d/f", "/out", DestKind::directory, false, "f", false},
      {true, "/d", "/out", DestKind::directory, false, "d", false},
      {true, "/d/.", "/out", DestKind::directory, false, "", false},
      {false, "/d/f", "/out/file", DestKind::file, true, "file", false},
      {false, "/d/f", "/out/new", DestKind::missing, true, "new", false},
      {true, "/d", "/out/new", DestKind::missing, true, "new", true},
      {true, "/d/.", "/out/new", DestKind::missing, true, "new", true},
  };
  for (const auto& c : cases) {
    engine::Landing l = engine::landing(c.src_dir, c.src, c.kind, c.dest, c.dest);
    EXPECT_EQ(l.in_parent, c.in_parent) << c.src << " " << c.dest;
    EXPECT_EQ(l.name, c.name) << c.src << " " << c.dest;
    EXPECT_EQ(l.make_dir, c.make_dir) << c.src << " " << c.dest;
  }
  EXPECT_THROW(engine::landing(true, "/d", DestKind::file, "/f", "/f"), lab::UserError);
  EXPECT_THROW(engine::landing(false, "/f", DestKind::missing, "/new/", "/new/"), lab::UserError);
}
