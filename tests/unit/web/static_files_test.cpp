// StaticFiles path mapping, without sockets.
#include "web/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tandem::web {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tandem-static-XXXXXX";
    dir = mkdtemp(pattern);
    fs::create_directories(dir / "www" / "a");
    std::ofstream(dir / "www" / "index.html") << "i";
    std::ofstream(dir / "www" / "a" / "b.js") << "b";
    std::ofstream(dir / "outside.txt") << "o";
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(StaticFilesTest, MapsPathsUnderTheRoot) {
  StaticFiles files((dir / "www").string(), "hint");
  EXPECT_EQ(files.resolve("/").status, 200u);
  EXPECT_EQ(files.resolve("/").file.filename(), "index.html");
  EXPECT_EQ(files.resolve("/a/b.js").status, 200u);
  EXPECT_EQ(files.resolve("/a//b.js").status, 200u);
  EXPECT_EQ(files.resolve("/%61/b.js").status, 200u);  // %61 is 'a'
  EXPECT_EQ(files.resolve("/a/").status, 404u);        // no index.html there
  EXPECT_EQ(files.resolve("/nope").status, 404u);
}

TEST_F(StaticFilesTest, RefusesTraversalInEveryEncoding) {
  StaticFiles files((dir / "www").string(), "hint");
  for (const char* path : {"/../outside.txt", "/a/../../outside.txt", "/%2e%2e/outside.txt",
                           "/a/%2E%2E/%2e%2e/outside.txt", "/..%2Foutside.txt", "/..%5coutside.txt",
                           "/a/b.js%00", "/%", "/%4", "/%g1", "relative", "", "/.", "/a/./b.js"}) {
    const auto r = files.resolve(path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " gave " << r.status;
    EXPECT_TRUE(r.file.empty()) << path;
  }
}

TEST_F(StaticFilesTest, MissingRootGivesTheHintForTheIndex) {
  StaticFiles files((dir / "absent").string(), "build the web phone");
  EXPECT_EQ(files.resolve("/").status, 404u);
  EXPECT_EQ(files.resolve("/").reason, "build the web phone");
  EXPECT_EQ(files.resolve("/x.js").reason, "not found");
}

TEST(ContentType, KnownAndUnknownExtensions) {
  EXPECT_EQ(contentTypeFor("a.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(contentTypeFor("a.wasm"), "application/wasm");
  EXPECT_EQ(contentTypeFor("a.ico"), "image/x-icon");
  EXPECT_EQ(contentTypeFor("a"), "application/octet-stream");
  EXPECT_EQ(contentTypeFor("a.exe"), "application/octet-stream");
}

TEST(PercentDecode, DecodesAndRejects) {
  EXPECT_EQ(percentDecode("a%20b"), "a b");
  EXPECT_EQ(percentDecode("a+b"), "a+b");
  EXPECT_EQ(percentDecode("a+b", true), "a b");
  EXPECT_EQ(percentDecode("%"), std::nullopt);
  EXPECT_EQ(percentDecode("%2"), std::nullopt);
  EXPECT_EQ(percentDecode("%xy"), std::nullopt);
}

}  // namespace
}  // namespace tandem::web
