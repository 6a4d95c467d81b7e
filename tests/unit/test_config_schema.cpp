// The generic schema: every supported type parses, constraints hold, and every error names the
// key, the value, where it came from and what was expected.
#include <gtest/gtest.h>

#include "nf/core/config/schema.h"
#include "nf/core/error.h"

namespace nf::config {
namespace {

struct Numbers {
  int64_t count = 3;
  double rate = 0.5;
  bool flag = false;
};
struct Words {
  std::string mode = "fast";
  std::vector<int64_t> sizes;
  std::vector<double> weights = {1.0};
  std::vector<std::string> names;
};
struct Root {
  Numbers numbers;
  Words words;
};

Schema<Root> make_schema() {
  Schema<Root> s;
  s.field(&Root::numbers, &Numbers::count, "numbers.count", "How many.").at_least(1).at_most(10);
  s.field(&Root::numbers, &Numbers::rate, "numbers.rate", "How fast.").at_least(0);
  s.field(&Root::numbers, &Numbers::flag, "numbers.flag", "Whether.");
  s.field(&Root::words, &Words::mode, "words.mode", "Which way.").one_of({"fast", "slow"});
  s.field(&Root::words, &Words::sizes, "words.sizes", "Sizes.").at_least(1);
  s.field(&Root::words, &Words::weights, "words.weights", "Weights.");
  s.field(&Root::words, &Words::names, "words.names", "Names.");
  return s;
}

Layer layer(const std::string& yaml) { return Layer{"test.yaml", YAML::Load(yaml)}; }

Root apply(const std::string& yaml, const std::vector<std::string>& args = {}) {
  Root root;
  make_schema().apply(root, {layer(yaml)}, parse_overrides(args));
  return root;
}

std::string error_of(const std::string& yaml, const std::vector<std::string>& args = {}) {
  try {
    apply(yaml, args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigSchema, DefaultsComeFromTheStruct) {
  const Root root = apply("{}");
  EXPECT_EQ(root.numbers.count, 3);
  EXPECT_EQ(root.words.mode, "fast");
  EXPECT_EQ(root.words.weights, std::vector<double>{1.0});
}

TEST(ConfigSchema, ParsesEveryType) {
  const Root root = apply(
      "numbers: {count: 7, rate: 2e-4, flag: yes}\n"
      "words: {mode: slow, sizes: [1, 2, 3], weights: [0.5, 1.5], names: [a, b]}\n");
  EXPECT_EQ(root.numbers.count, 7);
  EXPECT_DOUBLE_EQ(root.numbers.rate, 2e-4);
  EXPECT_TRUE(root.numbers.flag);
  EXPECT_EQ(root.words.mode, "slow");
  EXPECT_EQ(root.words.sizes, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(root.words.weights, (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(root.words.names, (std::vector<std::string>{"a", "b"}));
}

TEST(ConfigSchema, CommandLineOverridesWinAndAcceptBothListForms) {
  const Root root = apply("numbers: {count: 7}\n",
                          {"--numbers.count", "9", "--words.sizes=[4, 5]", "--words.names", "x,y,z", "--numbers.flag"});
  EXPECT_EQ(root.numbers.count, 9);
  EXPECT_EQ(root.words.sizes, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(root.words.names, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_TRUE(root.numbers.flag);
}

TEST(ConfigSchema, LaterOverrideOfTheSameKeyWins) {
  EXPECT_EQ(apply("{}", {"--numbers.count", "2", "--numbers.count", "5"}).numbers.count, 5);
}

TEST(ConfigSchema, UnknownKeyNamesFilePathAndSuggestion) {
  EXPECT_EQ(error_of("numbers:\n  count: 2\n  rat: 1\n"),
            "test.yaml:3: unknown key 'numbers.rat'; did you mean 'numbers.rate'?");
  EXPECT_EQ(error_of("numbrs: {count: 2}\n"), "test.yaml:1: unknown key 'numbrs'; did you mean 'numbers'?");
  EXPECT_EQ(error_of("zzz_totally_else: 1\n"), "test.yaml:1: unknown key 'zzz_totally_else'");
}

// Found by fuzz_config: a YAML complex key (`? [a]`) escaped as yaml-cpp's bad conversion.
TEST(ConfigSchema, KeysThatAreListsOrMappingsNameTheFileAndLine) {
  EXPECT_EQ(error_of("numbers:\n  ? [count]\n  : 2\n"), "test.yaml:2: a key must be a name, got a list");
  EXPECT_EQ(error_of("? {numbers: 1}\n: 2\n"), "test.yaml:1: a key must be a name, got a mapping");
}

TEST(ConfigSchema, UnknownCommandLineKeySuggestsTheOption) {
  EXPECT_EQ(error_of("{}", {"--numbers.cout", "2"}),
            "command line: unknown key '--numbers.cout'; did you mean '--numbers.count'?");
}

TEST(ConfigSchema, WrongTypesNameKeyValueAndExpectation) {
  EXPECT_EQ(error_of("numbers: {count: abc}\n"), "test.yaml:1: numbers.count: expected an integer, got 'abc'");
  EXPECT_EQ(error_of("numbers: {count: 2.5}\n"), "test.yaml:1: numbers.count: expected an integer, got '2.5'");
  EXPECT_EQ(error_of("numbers: {rate: fast}\n"), "test.yaml:1: numbers.rate: expected a number, got 'fast'");
  EXPECT_EQ(error_of("numbers: {flag: maybe}\n"), "test.yaml:1: numbers.flag: expected true or false, got 'maybe'");
  EXPECT_EQ(error_of("words: {sizes: 3}\n"), "test.yaml:1: words.sizes: expected a list of integers, got '3'");
  EXPECT_EQ(error_of("words: {mode: [a]}\n"), "test.yaml:1: words.mode: expected a string, got a list");
  EXPECT_EQ(error_of("numbers: 5\n"), "test.yaml:1: numbers is a section: expected a mapping of keys, got '5'");
  EXPECT_EQ(error_of("{}", {"--numbers.rate", "nan"}),
            "command line (--numbers.rate): numbers.rate: expected a finite number, got 'nan'");
}

TEST(ConfigSchema, OutOfRangeNamesBounds) {
  EXPECT_EQ(error_of("numbers: {count: 0}\n"),
            "test.yaml:1: numbers.count = 0 is out of range: expected between 1 and 10");
  EXPECT_EQ(error_of("numbers: {rate: -1}\n"), "test.yaml:1: numbers.rate = -1 is out of range: expected >= 0");
  EXPECT_EQ(error_of("{}", {"--words.sizes", "[1, 0]"}),
            "command line (--words.sizes): words.sizes = 0 is out of range: expected >= 1");
}

TEST(ConfigSchema, ChoicesListAllowedValuesAndSuggest) {
  EXPECT_EQ(error_of("words: {mode: slo}\n"),
            "test.yaml:1: words.mode = 'slo' is not allowed: expected one of fast, slow; did you mean 'slow'?");
}

TEST(ConfigSchema, MalformedOverridesAreUsageErrors) {
  EXPECT_THROW(parse_overrides({"numbers.count", "3"}), UsageError);
  EXPECT_THROW(parse_overrides({"--"}), UsageError);
  Root root;
  try {
    make_schema().apply(root, {}, parse_overrides({"--words.sizes", "[1, 2"}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("command line (--words.sizes): cannot parse list '[1, 2'"), std::string::npos);
  }
}

TEST(ConfigSchema, ToYamlRoundTripsThroughApply) {
  const Schema<Root> schema = make_schema();
  const Root original = apply("numbers: {count: 8, rate: 0.25}\nwords: {sizes: [2], names: [q]}\n");
  Root reloaded;
  schema.apply(reloaded, {Layer{"resolved.yaml", YAML::Load(YAML::Dump(schema.to_yaml(original)))}}, {});
  EXPECT_EQ(YAML::Dump(schema.to_yaml(reloaded)), YAML::Dump(schema.to_yaml(original)));
  EXPECT_EQ(reloaded.words.sizes, original.words.sizes);
}

TEST(ConfigSchema, MarkdownDocumentsEveryFieldWithDefaultAndConstraint) {
  const std::string doc = make_schema().markdown();
  EXPECT_NE(doc.find("| `numbers.count` | an integer ≥ 1, ≤ 10 | `3` | How many. |"), std::string::npos) << doc;
  EXPECT_NE(doc.find("| `words.mode` | one of `fast`, `slow` | `fast` | Which way. |"), std::string::npos) << doc;
  EXPECT_NE(doc.find("| `words.names` | a list of strings | `[]` | Names. |"), std::string::npos) << doc;
}

}  // namespace
}  // namespace nf::config
