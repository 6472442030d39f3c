// What doctor --clean deletes is decided by pure parsing: which `iptables -S` lines are a lesson's,
// the -D command that deletes exactly that rule, and which names and sysctl keys are lab ones.
#include "leftovers.hpp"

#include <gtest/gtest.h>

namespace lo = lab::leftovers;

TEST(Leftovers, LabNames) {
  EXPECT_TRUE(lo::is_lab_name("lab0"));
  EXPECT_TRUE(lo::is_lab_name("lab-cpu-1234"));
  EXPECT_TRUE(lo::is_lab_name("lab-"));
  EXPECT_FALSE(lo::is_lab_name("lab1"));
  EXPECT_FALSE(lo::is_lab_name("lab00"));
  EXPECT_FALSE(lo::is_lab_name("mylab-x"));
  EXPECT_FALSE(lo::is_lab_name("eth0"));
  EXPECT_FALSE(lo::is_lab_name("docker0"));
  EXPECT_FALSE(lo::is_lab_name("lab_x"));
}

TEST(Leftovers, SplitsIptablesWordsWithQuotes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(lo::split_iptables_words("-A FORWARD -j ACCEPT"), (V{"-A", "FORWARD", "-j", "ACCEPT"}));
  EXPECT_EQ(lo::split_iptables_words(R"(-A INPUT -m comment --comment "lab- two words" -j DROP)"),
            (V{"-A", "INPUT", "-m", "comment", "--comment", "lab- two words", "-j", "DROP"}));
  EXPECT_EQ(lo::split_iptables_words(R"(--comment "a \"q\" b\\c")"),
            (V{"--comment", R"(a "q" b\c)"}));
  EXPECT_EQ(lo::split_iptables_words(R"(--comment "")"), (V{"--comment", ""}));
  EXPECT_EQ(lo::split_iptables_words(""), V{});
}

struct RuleCase {
  const char* table;
  const char* line;
  const char* expected;  // the -D command joined, or nullptr when the rule is not ours
};

TEST(Leftovers, WhichIptablesRulesAreOursAndTheirDeleteCommand) {
  const RuleCase cases[] = {
      {"nat",
       "-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j MASQUERADE",
       "iptables -w -t nat -D POSTROUTING -s 172.29.0.0/24 '!' -o lab0 -m comment --comment "
       "lab-bridge -j MASQUERADE"},
      {"filter", R"(-A FORWARD -i lab0 -m comment --comment "lab-bridge out" -j ACCEPT)",
       "iptables -w -t filter -D FORWARD -i lab0 -m comment --comment 'lab-bridge out' -j ACCEPT"},
      // a jump into a LAB-* chain is ours even without a comment: the chain cannot go before it
      {"filter", "-A FORWARD -j LAB-USER", "iptables -w -t filter -D FORWARD -j LAB-USER"},
      {"nat", "-A PREROUTING -m addrtype --dst-type LOCAL -g LAB-DNAT",
       "iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -g LAB-DNAT"},
      // not ours: no lab comment, a comment that only contains lab-, a docker rule
      {"filter", "-A FORWARD -j ACCEPT", nullptr},
      {"filter", "-A FORWARD -m comment --comment my-lab-rule -j ACCEPT", nullptr},
      {"filter", "-A FORWARD -m comment --comment lab0 -j ACCEPT", nullptr},
      {"nat", "-A DOCKER -i docker0 -j RETURN", nullptr},
      {"filter", "-A INPUT -j lab-lowercase-chain", nullptr},
      // rules inside a LAB-* chain go with the chain (flushed), not one by one
      {"filter", "-A LAB-USER -m comment --comment lab-bridge -j RETURN", nullptr},
      // policies and chain definitions are not rules
      {"filter", "-P FORWARD DROP", nullptr},
      {"filter", "-N LAB-USER", nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto argv = lo::lab_rule_delete_command(c.table, c.line);
    if (!c.expected) {
      EXPECT_FALSE(argv.has_value());
    } else {
      ASSERT_TRUE(argv.has_value());
      EXPECT_EQ(lo::shell_join(*argv), c.expected);
    }
  }
}

TEST(Leftovers, DeleteCommandKeepsTheSpecWordForWord) {
  auto argv = lo::lab_rule_delete_command("filter",
                                          R"(-A FORWARD -m comment --comment "lab-x y" -j ACCEPT)");
  ASSERT_TRUE(argv.has_value());
  EXPECT_EQ(*argv,
            (std::vector<std::string>{"iptables", "-w", "-t", "filter", "-D", "FORWARD", "-m",
                                      "comment", "--comment", "lab-x y", "-j", "ACCEPT"}));
}

TEST(Leftovers, LabChains) {
  EXPECT_EQ(lo::lab_chain("-N LAB-DOCKER"), "LAB-DOCKER");
  EXPECT_EQ(lo::lab_chain("-N DOCKER"), std::nullopt);
  EXPECT_EQ(lo::lab_chain("-N lab-x"), std::nullopt);
  EXPECT_EQ(lo::lab_chain("-A LAB-DOCKER -j RETURN"), std::nullopt);
  EXPECT_EQ(lo::lab_chain("-P INPUT ACCEPT"), std::nullopt);
}

TEST(Leftovers, SysctlKeysMapToProcSysAndNothingElse) {
  EXPECT_EQ(lo::sysctl_path("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ(lo::sysctl_path("net.ipv4.conf.lab-0.forwarding"),
            "/proc/sys/net/ipv4/conf/lab-0/forwarding");
  EXPECT_EQ(lo::sysctl_path("../../etc/passwd"), std::nullopt);
  EXPECT_EQ(lo::sysctl_path("net..ipv4"), std::nullopt);
  EXPECT_EQ(lo::sysctl_path("net/ipv4"), std::nullopt);
  EXPECT_EQ(lo::sysctl_path(""), std::nullopt);
  EXPECT_EQ(lo::sysctl_path(".net"), std::nullopt);
}

TEST(Leftovers, ShellQuote) {
  EXPECT_EQ(lo::shell_quote("/tmp/lab-x"), "/tmp/lab-x");
  EXPECT_EQ(lo::shell_quote("a b"), "'a b'");
  EXPECT_EQ(lo::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(lo::shell_quote(""), "''");
}
