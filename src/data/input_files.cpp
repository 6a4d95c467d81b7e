// Input discovery: files, directories (recursive) and globs to a sorted, de-duplicated list with
// sizes.
#include "nf/data/input_files.h"

#include <glob.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>

#include "nf/core/error.h"

namespace nf::data {
namespace {

namespace fs = std::filesystem;

bool is_glob(const std::string& spec) { return spec.find_first_of("*?[") != std::string::npos; }

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Directory walks take only the data files users keep next to READMEs and scripts.
bool has_data_extension(const std::string& name) {
  std::string stem = ends_with(name, ".gz") ? name.substr(0, name.size() - 3) : name;
  for (const char* ext : {".jsonl", ".ndjson", ".json", ".txt", ".text"}) {
    if (ends_with(stem, ext)) return true;
  }
  return false;
}

bool starts_with_gzip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 2> magic{};
  in.read(reinterpret_cast<char*>(magic.data()), 2);
  return in.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

InputFile describe(const std::string& path) {
  std::error_code error;
  const auto bytes = fs::file_size(path, error);
  if (error) throw IoError("cannot read the size of input '" + path + "': " + error.message(), "check its permissions");
  return InputFile{path, static_cast<int64_t>(bytes), starts_with_gzip_magic(path)};
}

std::vector<std::string> walk_directory(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code error;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && has_data_extension(name)) paths.push_back(it->path().string());
  }
  if (error) throw IoError("cannot list input directory '" + dir + "': " + error.message(), "check its permissions");
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<std::string> expand_glob(const std::string& pattern) {
  glob_t matches{};
  const int status = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &matches);
  std::vector<std::string> paths(matches.gl_pathv, matches.gl_pathv + matches.gl_pathc);
  ::globfree(&matches);
  if (status != 0 && status != GLOB_NOMATCH) {
    throw IoError("cannot expand --input '" + pattern + "' (glob error " + std::to_string(status) + ")",
                  "check that its directories are readable");
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// The files one spec stands for, sorted.
std::vector<std::string> expand_spec(const std::string& spec) {
  std::vector<std::string> candidates;
  if (is_glob(spec) && !fs::exists(spec)) {
    candidates = expand_glob(spec);
  } else {
    NF_CHECK(fs::exists(spec), UsageError, "--input '", spec, "': no such file or directory");
    candidates = {spec};
  }
  std::vector<std::string> files;
  for (const std::string& path : candidates) {
    if (fs::is_directory(path)) {
      const std::vector<std::string> inner = walk_directory(path);
      files.insert(files.end(), inner.begin(), inner.end());
    } else {
      files.push_back(path);
    }
  }
  if (files.empty()) {
    throw UsageError("--input '" + spec + "' matched no input files",
                     "directories contribute *.jsonl, *.ndjson, *.json, *.txt and *.text files (also .gz); "
                     "name other files explicitly");
  }
  return files;
}

}  // namespace

std::vector<InputFile> discover_inputs(const std::vector<std::string>& specs) {
  NF_CHECK(!specs.empty(), UsageError, "no --input given: name at least one file, directory or glob");
  std::vector<InputFile> files;
  std::set<std::string> seen;  // canonical paths, so ./a and a count once
  for (const std::string& spec : specs) {
    for (const std::string& path : expand_spec(spec)) {
      std::error_code error;
      const std::string canonical = fs::weakly_canonical(path, error).string();
      if (!seen.insert(error ? path : canonical).second) continue;
      files.push_back(describe(path));
    }
  }
  return files;
}

int64_t total_bytes(const std::vector<InputFile>& files) {
  int64_t total = 0;
  for (const InputFile& file : files) total += file.bytes;
  return total;
}

}  // namespace nf::data
