// Readers on real text: the KJV Bible as plain-text paragraphs and as JSONL (plain and gzip),
// the Tang poems in every dataset format, and the line reader's edge cases.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "corpus.h"
#include "nf/core/error.h"
#include "nf/data/document_reader.h"
#include "nf/data/line_reader.h"

namespace nf::data {
namespace {

using nlohmann::json;
using testing::bible_verses;
using testing::tang_poems;
using testing::TempDir;
using testing::write_gzip;
using testing::write_text;

std::vector<Document> read_all(const std::string& path, ReaderOptions options, BadInputReport& bad) {
  DocumentReader reader(path, options, bad);
  std::vector<Document> documents;
  Document document;
  while (reader.next(document)) documents.push_back(document);
  return documents;
}

std::vector<Document> read_all(const std::string& path, DatasetFormat format) {
  BadInputReport bad({/*strict=*/true});
  return read_all(path, ReaderOptions{format}, bad);
}

// One paragraph per chapter, one verse per line; chapters separated by one or two blank lines.
std::string bible_as_paragraphs() {
  std::string text;
  std::string chapter;
  for (const auto& verse : bible_verses()) {
    if (!chapter.empty() && verse.chapter != chapter) text += verse.chapter.back() == '1' ? "\n\n" : "\n";
    text += verse.text + "\n";
    chapter = verse.chapter;
  }
  return text;
}

TEST(DocumentReader, BibleParagraphsBecomeOneDocumentPerChapterWithTheFirstLineAsSource) {
  ASSERT_EQ(bible_verses().size(), 31102u);
  TempDir dir;
  const std::string text = bible_as_paragraphs();
  write_text(dir.file("kjv.txt"), text);
  write_gzip(dir.file("kjv.txt.gz"), text);
  for (const char* name : {"kjv.txt", "kjv.txt.gz"}) {
    const auto documents = read_all(dir.file(name), DatasetFormat::kPretrain);
    ASSERT_EQ(documents.size(), 1189u) << name;  // the KJV's chapters
    EXPECT_EQ(documents[0].source, dir.file(name) + ":1");
    EXPECT_EQ(documents[0].segments.size(), 1u);
    EXPECT_EQ(documents[0].segments[0].role, SegmentRole::kText);
    EXPECT_EQ(documents[0].segments[0].text.substr(0, 56), "In the beginning God created the heaven and the earth.\nA");
    EXPECT_EQ(documents[1].source, dir.file(name) + ":33");  // Genesis 1 has 31 verses, then a blank line
    EXPECT_EQ(documents.back().segments[0].text.substr(documents.back().segments[0].text.rfind('\n') + 1),
              "The grace of our Lord Jesus Christ be with you all. Amen.");
  }
}

TEST(DocumentReader, BibleJsonlKeepsIdsAndLineNumbersPlainAndGzip) {
  TempDir dir;
  std::string jsonl;
  for (const auto& verse : bible_verses()) jsonl += json{{"text", verse.text}, {"id", verse.id}}.dump() + "\n";
  write_text(dir.file("kjv.jsonl"), jsonl);
  write_gzip(dir.file("kjv.jsonl.gz"), jsonl);
  const auto plain = read_all(dir.file("kjv.jsonl"), DatasetFormat::kPretrain);
  const auto packed = read_all(dir.file("kjv.jsonl.gz"), DatasetFormat::kPretrain);
  ASSERT_EQ(plain.size(), 31102u);
  ASSERT_EQ(packed.size(), plain.size());
  for (size_t i = 0; i < plain.size(); i += 997) {
    EXPECT_EQ(plain[i].segments[0].text, bible_verses()[i].text);
    EXPECT_EQ(plain[i].metadata.at("id"), bible_verses()[i].id);
    EXPECT_EQ(plain[i].source, dir.file("kjv.jsonl") + ":" + std::to_string(i + 1));
    EXPECT_EQ(packed[i].segments[0].text, plain[i].segments[0].text);
    EXPECT_EQ(packed[i].source, dir.file("kjv.jsonl.gz") + ":" + std::to_string(i + 1));
  }
  BadInputReport bad;
  DocumentReader reader(dir.file("kjv.jsonl.gz"), {DatasetFormat::kPretrain}, bad);
  Document document;
  while (reader.next(document)) {
  }
  EXPECT_EQ(reader.disk_bytes(), static_cast<int64_t>(std::filesystem::file_size(dir.file("kjv.jsonl.gz"))));
}

std::string body(const testing::Poem& poem) {
  std::string text;
  for (const auto& line : poem.lines) text += (text.empty() ? "" : "\n") + line;
  return text;
}

TEST(DocumentReader, TangPoemsInEveryFormat) {
  const auto& poems = tang_poems();
  ASSERT_GT(poems.size(), 300u);
  EXPECT_EQ(poems[0].title, "《感遇・其一》");
  EXPECT_EQ(poems[0].author, "作者：张九龄");
  TempDir dir;
  std::string pretrain, alpaca, chat, dpo, sequence;
  for (const auto& poem : poems) {
    pretrain +=
        json{{"text", body(poem)}, {"id", poem.title}, {"emotion", "calm"}, {"scene", poem.author}}.dump() + "\n";
    alpaca +=
        json{{"instruction", "写一首诗：" + poem.title}, {"input", poem.author}, {"output", body(poem)}}.dump() + "\n";
    chat += json{{"conversations",
                  {{{"from", "system"}, {"value", "你是诗人"}},
                   {{"from", "human"}, {"value", poem.title}},
                   {{"from", "gpt"}, {"value", body(poem)}}}}}
                .dump() +
            "\n";
    dpo += json{{"prompt", poem.title}, {"chosen", body(poem)}, {"rejected", poem.lines.back()}}.dump() + "\n";
    std::vector<std::string> context(poem.lines.begin(), poem.lines.end() - 1);
    sequence += json{{"paragraphs", context}, {"next", poem.lines.back()}}.dump() + "\n";
  }
  write_gzip(dir.file("pretrain.jsonl.gz"), pretrain);
  write_text(dir.file("alpaca.jsonl"), alpaca);
  write_text(dir.file("chat.jsonl"), chat);
  write_text(dir.file("dpo.jsonl"), dpo);
  write_gzip(dir.file("sequence.jsonl.gz"), sequence);

  const auto p = read_all(dir.file("pretrain.jsonl.gz"), DatasetFormat::kPretrain);
  ASSERT_EQ(p.size(), poems.size());
  EXPECT_EQ(p[5].metadata, (std::map<std::string, std::string>{
                               {"id", poems[5].title}, {"emotion", "calm"}, {"scene", poems[5].author}}));
  const auto a = read_all(dir.file("alpaca.jsonl"), DatasetFormat::kSft);
  ASSERT_EQ(a.size(), poems.size());
  ASSERT_EQ(a[0].segments.size(), 2u);
  EXPECT_EQ(a[0].segments[0].role, SegmentRole::kUser);
  EXPECT_EQ(a[0].segments[0].text, "写一首诗：《感遇・其一》\n作者：张九龄");
  EXPECT_EQ(a[0].segments[1].role, SegmentRole::kAssistant);
  EXPECT_EQ(a[0].segments[1].text, body(poems[0]));
  const auto c = read_all(dir.file("chat.jsonl"), DatasetFormat::kSft);
  ASSERT_EQ(c.size(), poems.size());
  ASSERT_EQ(c[3].segments.size(), 3u);
  EXPECT_EQ(c[3].segments[0].role, SegmentRole::kSystem);
  EXPECT_EQ(c[3].segments[1].role, SegmentRole::kUser);
  EXPECT_EQ(c[3].segments[2].role, SegmentRole::kAssistant);
  EXPECT_EQ(c[3].segments[2].text, body(poems[3]));
  const auto d = read_all(dir.file("dpo.jsonl"), DatasetFormat::kDpo);
  ASSERT_EQ(d.size(), poems.size());
  EXPECT_EQ(d[7].segments[0].role, SegmentRole::kPrompt);
  EXPECT_EQ(d[7].segments[1].role, SegmentRole::kChosen);
  EXPECT_EQ(d[7].segments[2].role, SegmentRole::kRejected);
  EXPECT_EQ(d[7].segments[2].text, poems[7].lines.back());
  const auto s = read_all(dir.file("sequence.jsonl.gz"), DatasetFormat::kSequence);
  ASSERT_EQ(s.size(), poems.size());
  EXPECT_EQ(s[9].segments.size(), poems[9].lines.size());
  EXPECT_EQ(s[9].segments.front().role, SegmentRole::kContext);
  EXPECT_EQ(s[9].segments.back().role, SegmentRole::kNext);
  EXPECT_EQ(s[9].source, dir.file("sequence.jsonl.gz") + ":10");
}

TEST(DocumentReader, ChatAcceptsRoleContentAndMessagesAndAlpacaWithoutInput) {
  TempDir dir;
  write_text(dir.file("sft.jsonl"),
             "{\"messages\": [{\"role\": \"user\", \"content\": \"What is AI?\"}, "
             "{\"role\": \"assistant\", \"content\": \"AI stands for...\"}]}\n"
             "\n"
             "{\"instruction\": \"用户问题\", \"input\": \"\", \"output\": \"模型回答\", \"id\": 17}\n");
  const auto documents = read_all(dir.file("sft.jsonl"), DatasetFormat::kSft);
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0].segments[1].text, "AI stands for...");
  EXPECT_EQ(documents[1].segments[0].text, "用户问题");
  EXPECT_EQ(documents[1].metadata.at("id"), "17");
  EXPECT_EQ(documents[1].source, dir.file("sft.jsonl") + ":3");
}

TEST(DocumentReader, ParagraphLayoutIsForPretrainOnlyAndCanBeForced) {
  TempDir dir;
  write_text(dir.file("notes.txt"), "{\"text\": \"a\"}\n");
  EXPECT_EQ(resolve_layout(dir.file("notes.txt"), {DatasetFormat::kPretrain}), InputLayout::kParagraphs);
  EXPECT_EQ(resolve_layout(dir.file("notes.txt.gz"), {DatasetFormat::kPretrain}), InputLayout::kParagraphs);
  EXPECT_EQ(resolve_layout(dir.file("notes.txt"), {DatasetFormat::kSft}), InputLayout::kJsonl);
  EXPECT_EQ(resolve_layout(dir.file("a.json"), {DatasetFormat::kPretrain}), InputLayout::kJsonl);
  EXPECT_EQ(read_all(dir.file("notes.txt"), DatasetFormat::kPretrain)[0].segments[0].text, "{\"text\": \"a\"}");
  BadInputReport bad;
  EXPECT_EQ(read_all(dir.file("notes.txt"), {DatasetFormat::kPretrain, InputLayout::kJsonl}, bad)[0].segments[0].text,
            "a");
  try {
    DocumentReader reader(dir.file("notes.txt"), {DatasetFormat::kDpo, InputLayout::kParagraphs}, bad);
    FAIL() << "paragraphs accepted for dpo";
  } catch (const UsageError& error) {
    EXPECT_EQ(std::string(error.what()),
              "input '" + dir.file("notes.txt") + "': plain-text paragraphs are pretrain data, but the format is dpo");
  }
}

TEST(LineReader, StripsCrlfAndByteOrderMarkCountsLinesAndCutsLongLines) {
  TempDir dir;
  write_text(dir.file("x.txt"), "\xEF\xBB\xBFone\r\ntwo\n\n" + std::string(5000, 'z') + "\r\n12345\r\nlast");
  LineReader reader(dir.file("x.txt"), 5);
  std::string line;
  std::vector<std::pair<std::string, bool>> lines;
  while (reader.next(line)) lines.push_back({line, reader.truncated()});
  EXPECT_EQ(lines,
            (std::vector<std::pair<std::string, bool>>{
                {"one", false}, {"two", false}, {"", false}, {"zzzzz", true}, {"12345", false}, {"last", false}}));
  EXPECT_EQ(reader.line_number(), 6);
  EXPECT_EQ(reader.disk_bytes(), static_cast<int64_t>(std::filesystem::file_size(dir.file("x.txt"))));
}

TEST(LineReader, LinesLongerThanTheBufferAndMissingFiles) {
  TempDir dir;
  const std::string long_line(3 << 20, 'q');
  write_gzip(dir.file("long.gz"), "a\n" + long_line + "\nb\n");
  LineReader reader(dir.file("long.gz"), 4 << 20);
  std::string line;
  ASSERT_TRUE(reader.next(line));
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line, long_line);
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line, "b");
  EXPECT_FALSE(reader.next(line));
  EXPECT_THROW(LineReader(dir.file("missing.jsonl"), 10), IoError);
}

TEST(LineReader, TruncatedGzipIsADataErrorNamingTheFile) {
  TempDir dir;
  std::string text;
  for (const auto& verse : bible_verses()) text += verse.text + "\n";
  write_gzip(dir.file("full.gz"), text);
  std::ifstream in(dir.file("full.gz"), std::ios::binary);
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(dir.file("cut.gz"), packed.substr(0, packed.size() / 2));
  LineReader reader(dir.file("cut.gz"), 1 << 20);
  std::string line;
  try {
    while (reader.next(line)) {
    }
    FAIL() << "a truncated gzip file read to the end";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("input '" + dir.file("cut.gz") + "' after line "), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("corrupt or truncated gzip data"), std::string::npos);
  }
}

}  // namespace
}  // namespace nf::data
