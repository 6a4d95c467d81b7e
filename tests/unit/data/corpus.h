// Real text for the data tests, generated at test time: the King James Bible (the `bible`
// program of Debian's bible-kjv) and the 300 Tang poems (fortunes-zh), plus temporary
// directories and plain/gzip file writers.
#pragma once

#include <string>
#include <vector>

namespace nf::data::testing {

struct Verse {
  std::string id;       // "Ge1:1"
  std::string chapter;  // "Ge1"
  std::string text;     // "In the beginning God created the heaven and the earth."
};
// Every verse, Genesis 1:1 to Revelation 22:21, in order (~4.4 MB).
const std::vector<Verse>& bible_verses();

struct Poem {
  std::string title;
  std::string author;
  std::vector<std::string> lines;  // the poem's lines, UTF-8, without color escapes
};
// The poems of /usr/share/games/fortunes/tang300, with the ANSI color escapes stripped.
const std::vector<Poem>& tang_poems();

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name, creating parent directories.
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& content);
void write_gzip(const std::string& path, const std::string& content);

}  // namespace nf::data::testing
