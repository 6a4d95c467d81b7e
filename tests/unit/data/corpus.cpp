// Test corpora from Debian's bible-kjv and fortunes-zh, and file helpers.
#include "corpus.h"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace nf::data::testing {
namespace {

std::string run(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string output;
  char chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) output.append(chunk, got);
  if (::pclose(pipe) != 0) throw std::runtime_error(command + " failed (is bible-kjv installed? scripts/setup.sh)");
  return output;
}

std::vector<Verse> load_bible() {
  const std::string text = run("bible -f 'Gen1:1-Rev22:21'");
  std::vector<Verse> verses;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    const size_t space = line.find(' ');
    if (line.empty() || space == std::string::npos) continue;
    const std::string id = line.substr(0, space);
    verses.push_back({id, id.substr(0, id.find(':')), line.substr(space + 1)});
  }
  return verses;
}

std::vector<Poem> load_poems() {
  std::ifstream in("/usr/share/games/fortunes/tang300");
  if (!in) throw std::runtime_error("cannot read /usr/share/games/fortunes/tang300 (is fortunes-zh installed?)");
  const std::regex color("\x1b\\[[0-9;]*m");
  std::vector<Poem> poems;
  std::vector<std::string> entry;
  auto flush = [&] {
    if (entry.size() >= 3) poems.push_back({entry[0], entry[1], {entry.begin() + 2, entry.end()}});
    entry.clear();
  };
  std::string line;
  while (std::getline(in, line)) {
    if (line == "%") {
      flush();
      continue;
    }
    line = std::regex_replace(line, color, "");
    if (line.find_first_not_of(" \t") != std::string::npos) entry.push_back(line);
  }
  flush();
  return poems;
}

}  // namespace

const std::vector<Verse>& bible_verses() {
  static const std::vector<Verse> verses = load_bible();
  return verses;
}

const std::vector<Poem>& tang_poems() {
  static const std::vector<Poem> poems = load_poems();
  return poems;
}

void write_text(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_gzip(const std::string& path, const std::string& content) {
  gzFile file = gzopen(path.c_str(), "wb6");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  const int written = gzwrite(file, content.data(), static_cast<unsigned>(content.size()));
  gzclose(file);
  if (written != static_cast<int>(content.size())) throw std::runtime_error("short gzip write to " + path);
}

}  // namespace nf::data::testing
