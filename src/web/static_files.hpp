#pragma once
// Static files under one root directory (the web phone): safe mapping of
// request paths to files, content types, validators. No Beast here.

#include "web/http_server.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::web {

class StaticFiles {
 public:
  // `root` may be empty or missing: every lookup is then a 404 with `missingHint`.
  StaticFiles(std::string root, std::string missingHint);

  struct Lookup {
    unsigned status = 404;       // 200, 400 or 404
    std::filesystem::path file;  // when 200
    std::string reason;          // body text otherwise
  };
  // Maps the undecoded path of a request target ("/a/b.js") to a file under
  // the root. Refuses (400) percent-encoded '/', '\' and NUL, bad escapes, and
  // "." / ".." segments after decoding; dot files are 404; so are symbolic
  // links that lead outside the root.
  Lookup resolve(std::string_view path) const;

  // A GET or HEAD on a static path: 200 with the file (ETag, Cache-Control),
  // 304 when If-None-Match matches, or the error of resolve().
  Response serve(const Request& request) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;  // canonical, or empty when unusable
  std::string missingHint_;
};

// "text/html; charset=utf-8" for ".html", ... "application/octet-stream" otherwise.
std::string_view contentTypeFor(const std::filesystem::path& file);

// Decodes %XX escapes (and '+' as space when asked); nullopt for a bad escape.
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace = false);

}  // namespace tandem::web
