#include "web/static_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <system_error>

namespace tandem::web {
namespace fs = std::filesystem;
namespace {

// Files larger than this are not served: the web phone's assets are far
// smaller, and a whole file is read into memory per request.
constexpr std::uintmax_t kMaxFileSize = 32 * 1024 * 1024;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isWithin(const fs::path& file, const fs::path& root) {
  auto f = file.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++f) {
    if (f == file.end() || *f != *r) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hexValue(text[i + 1]), lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view contentTypeFor(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> types{{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
      {".wav", "audio/wav"},
      {".mp3", "audio/mpeg"},
      {".ogg", "audio/ogg"},
  }};
  const auto ext = file.extension().string();
  for (const auto& [e, type] : types) {
    if (ext.size() == e.size() && std::equal(ext.begin(), ext.end(), e.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      return type;
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(std::string root, std::string missingHint)
    : missingHint_(std::move(missingHint)) {
  std::error_code ec;
  if (!root.empty() && fs::is_directory(root, ec)) root_ = fs::canonical(root, ec);
  if (ec) root_.clear();
}

StaticFiles::Lookup StaticFiles::resolve(std::string_view path) const {
  if (path.empty() || path.front() != '/') return {400, {}, "bad request path"};
  // Encoded separators and NUL would let a segment check be bypassed
  // ("..%2f..") or truncate the name: refuse them before decoding.
  for (std::size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] != '%') continue;
    const std::string_view esc = path.substr(i + 1, 2);
    if (esc == "2f" || esc == "2F" || esc == "5c" || esc == "5C" || esc == "00")
      return {400, {}, "encoded '/', '\\' or NUL in path"};
  }
  const auto decoded = percentDecode(path);
  if (!decoded) return {400, {}, "bad percent-encoding in path"};

  fs::path relative;
  std::size_t start = 1;
  bool directory = decoded->back() == '/';
  while (start <= decoded->size()) {
    auto end = decoded->find('/', start);
    if (end == std::string::npos) end = decoded->size();
    const std::string_view segment = std::string_view(*decoded).substr(start, end - start);
    start = end + 1;
    if (segment.empty()) continue;
    if (segment == "." || segment == "..") return {400, {}, "'.' or '..' in path"};
    for (char c : segment) {
      if (c == '\\' || c == '\0' || static_cast<unsigned char>(c) < 0x20)
        return {400, {}, "control character or '\\' in path"};
    }
    if (segment.front() == '.') return {404, {}, "not found"};
    relative /= fs::path(std::string(segment));
  }

  const bool isIndex = relative.empty() || directory;
  if (root_.empty()) {
    return {404, {}, isIndex ? missingHint_ : "not found"};
  }
  std::error_code ec;
  fs::path file = root_ / relative;
  if (directory || fs::is_directory(file, ec)) file /= "index.html";
  // Symbolic links may point anywhere: compare the real location.
  const auto real = fs::canonical(file, ec);
  if (ec || !fs::is_regular_file(real, ec)) {
    return {404, {}, isIndex && relative.empty() ? missingHint_ : "not found"};
  }
  if (!isWithin(real, root_)) return {404, {}, "not found"};
  return {200, real, {}};
}

Response StaticFiles::serve(const Request& request) const {
  const auto lookup = resolve(request.path);
  if (lookup.status != 200)
    return {lookup.status, "text/plain; charset=utf-8", lookup.reason + "\n", {}};

  std::error_code ec;
  const auto size = fs::file_size(lookup.file, ec);
  const auto mtime = fs::last_write_time(lookup.file, ec);
  if (ec || size > kMaxFileSize) return {404, "text/plain; charset=utf-8", "not found\n", {}};
  // A weak validator from size and modification time: cheap, and changes
  // whenever the file is replaced by a new build.
  const auto etag = fmt::format("W/\"{:x}-{:x}\"", size,
                                static_cast<std::uint64_t>(mtime.time_since_epoch().count()));
  Response response;
  response.contentType = std::string(contentTypeFor(lookup.file));
  // Always revalidate (cheap: 304 on a matching ETag), so a new web phone
  // build is picked up on the next load without renamed files.
  response.headers = {
      {"Cache-Control", "no-cache"}, {"ETag", etag}, {"X-Content-Type-Options", "nosniff"}};
  if (request.header("If-None-Match") == etag) {
    response.status = 304;
    return response;
  }
  std::ifstream in(lookup.file, std::ios::binary);
  if (!in) return {404, "text/plain; charset=utf-8", "not found\n", {}};
  response.body.assign(std::istreambuf_iterator<char>(in), {});
  return response;
}

}  // namespace tandem::web
