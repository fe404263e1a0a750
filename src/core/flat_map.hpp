#pragma once
// Hash tables for the per-request paths: Boost's open-addressing
// unordered_flat_map (Boost 1.81). A lookup touches one group of metadata and
// the slot itself, where std::unordered_map walks a bucket array and then a
// node per entry: with the hundreds of thousands of transactions and the tens
// of thousands of users, bindings and nonces a busy server keeps, those extra
// cache misses were about a tenth of its CPU.
//
// Unlike std::unordered_map, inserting may move every element: keep pointers
// to what a value owns (a unique_ptr's object, a vector's elements), never to
// the value itself, across an insertion.

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace tandem::core {

// Lets a std::string-keyed table be searched with a string_view, without
// building a std::string per lookup.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
struct StringEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

template <class K, class V, class Hash = boost::hash<K>, class Eq = std::equal_to<K>>
using FlatMap = boost::unordered_flat_map<K, V, Hash, Eq>;

template <class V>
using StringFlatMap = boost::unordered_flat_map<std::string, V, StringHash, StringEqual>;

template <class K, class Hash = boost::hash<K>, class Eq = std::equal_to<K>>
using FlatSet = boost::unordered_flat_set<K, Hash, Eq>;

}  // namespace tandem::core
