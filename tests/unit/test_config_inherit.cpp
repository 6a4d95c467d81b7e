// `inherit:` chains: order, preset lookup, diamonds, cycles, missing parents and YAML errors.
#include <gtest/gtest.h>

#include "../support/temp_dir.h"
#include "nf/core/config/source.h"
#include "nf/core/error.h"

namespace nf::config {
namespace {

using nf::testing::TempDir;

std::vector<std::string> files_of(const std::vector<Layer>& layers) {
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back(std::filesystem::path(layer.file).filename().string());
  return names;
}

std::string error_of(const std::string& path, const std::vector<std::string>& preset_dirs = {}) {
  try {
    load_with_inheritance(path, preset_dirs);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigInherit, ThreeLevelChainLoadsDeepestFirstAndDropsInheritKey) {
  TempDir dir;
  dir.write("grand.yaml", "model: {d_model: 1}\n");
  dir.write("parent.yaml", "inherit: grand\nmodel: {d_model: 2}\n");
  const std::string child = dir.write("child.yaml", "inherit: parent.yaml\nmodel: {d_model: 3}\n");
  const auto layers = load_with_inheritance(child, {});
  EXPECT_EQ(files_of(layers), (std::vector<std::string>{"grand.yaml", "parent.yaml", "child.yaml"}));
  for (const auto& layer : layers) EXPECT_FALSE(layer.root["inherit"]);
}

TEST(ConfigInherit, PresetNamesAreFoundInPresetDirectories) {
  TempDir presets, work;
  presets.write("tiny.yaml", "model: {d_model: 64}\n");
  const std::string file = work.write("run.yaml", "inherit: tiny\n");
  const auto layers = load_with_inheritance(file, {presets.path().string()});
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].file, (presets.path() / "tiny.yaml").string());
}

TEST(ConfigInherit, ASiblingFileShadowsThePreset) {
  TempDir presets, work;
  presets.write("tiny.yaml", "a: 1\n");
  work.write("tiny.yaml", "a: 2\n");
  const auto layers = load_with_inheritance(work.write("run.yaml", "inherit: tiny\n"), {presets.path().string()});
  EXPECT_EQ(layers[0].root["a"].as<int>(), 2);
}

TEST(ConfigInherit, ListOfParentsAndDiamondApplyTheSharedAncestorOnce) {
  TempDir dir;
  dir.write("base.yaml", "x: 0\n");
  dir.write("left.yaml", "inherit: base\n");
  dir.write("right.yaml", "inherit: base\n");
  const auto layers = load_with_inheritance(dir.write("top.yaml", "inherit: [left, right]\n"), {});
  EXPECT_EQ(files_of(layers), (std::vector<std::string>{"base.yaml", "left.yaml", "right.yaml", "top.yaml"}));
}

TEST(ConfigInherit, CycleIsReportedWithTheWholeChain) {
  TempDir dir;
  dir.write("a.yaml", "inherit: b\n");
  dir.write("b.yaml", "inherit: c\n");
  dir.write("c.yaml", "inherit: a\n");
  const std::string root = std::filesystem::weakly_canonical(dir.path()).string();
  EXPECT_EQ(error_of((dir.path() / "a.yaml").string()),
            "inherit cycle: " + root + "/a.yaml -> " + root + "/b.yaml -> " + root + "/c.yaml -> " + root + "/a.yaml");
}

TEST(ConfigInherit, SelfInheritIsACycle) {
  TempDir dir;
  const std::string file = dir.write("self.yaml", "inherit: self\n");
  EXPECT_NE(error_of(file).find("inherit cycle: "), std::string::npos);
}

TEST(ConfigInherit, MissingParentNamesFileLineAndPlacesLooked) {
  TempDir dir, presets;
  const std::string file = dir.write("run.yaml", "model: {}\ninherit: nosuch\n");
  EXPECT_EQ(error_of(file, {presets.path().string()}), file + ":2: inherit: cannot find 'nosuch' (looked in " +
                                                           (dir.path() / "nosuch.yaml").string() + ", " +
                                                           (presets.path() / "nosuch.yaml").string() + ")");
}

// Found by fuzz_config: a name the filesystem refuses escaped as std::filesystem's error.
TEST(ConfigInherit, ANameTooLongForTheFilesystemIsNotFound) {
  TempDir dir;
  const std::string name(300, 'x');
  const std::string file = dir.write("run.yaml", "inherit: " + name + "\n");
  EXPECT_EQ(error_of(file).rfind(file + ":1: inherit: cannot find '" + name + "'", 0), 0u) << error_of(file);
  const std::string path = (dir.path() / (name + ".yaml")).string();
  EXPECT_EQ(error_of(path), "config file '" + path + "' cannot be read: File name too long");
}

TEST(ConfigInherit, MissingFileAndSyntaxErrorsNameTheFile) {
  TempDir dir;
  EXPECT_EQ(error_of((dir.path() / "absent.yaml").string()),
            "config file '" + (dir.path() / "absent.yaml").string() + "' does not exist");
  const std::string bad = dir.write("bad.yaml", "model:\n  d_model: [1, 2\n");
  EXPECT_EQ(error_of(bad).rfind(bad + ":3:", 0), 0u) << error_of(bad);
  EXPECT_NE(error_of(bad).find("YAML syntax error"), std::string::npos);
  const std::string list = dir.write("list.yaml", "- a\n- b\n");
  EXPECT_EQ(error_of(list), list + ":1: the top level must be a mapping of sections (model:, training:, ...)");
}

TEST(ConfigInherit, EmptyFileIsAnEmptyLayer) {
  TempDir dir;
  const auto layers = load_with_inheritance(dir.write("empty.yaml", ""), {});
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_TRUE(layers[0].root.IsMap());
}

}  // namespace
}  // namespace nf::config
