// A strict parser of the Prometheus text exposition format, shared by the unit and integration tests.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace baton::test::prom {

// A strict reader of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): it throws on anything the
// format does not allow, so a passing parse means the text is valid.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct FamilyInfo {
  std::string type;
  std::string help;
  bool has_help = false;
};

struct Exposition {
  std::map<std::string, FamilyInfo> families;
  std::vector<std::string> order;  // families in the order their TYPE lines appear
  std::vector<Sample> samples;

  // The value of the one sample with this name and exactly these labels; throws otherwise.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    const Sample* found = nullptr;
    for (const Sample& s : samples) {
      if (s.name != name || s.labels != labels) continue;
      if (found) throw std::runtime_error("duplicate sample " + name);
      found = &s;
    }
    if (!found) throw std::runtime_error("no sample " + name);
    return found->value;
  }
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const Sample& s : samples) n += s.name == name;
    return n;
  }
};

inline const std::regex kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
inline const std::regex kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");

[[noreturn]] void fail(const std::string& why, const std::string& line) {
  throw std::runtime_error(why + ": [" + line + "]");
}

inline double parse_value(const std::string& text, const std::string& line) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  if (text.empty()) fail("empty value", line);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) fail("value is not a float", line);
  return v;
}

// name{a="x",b="y"} value
inline Sample parse_sample(const std::string& line) {
  Sample s;
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s.name = line.substr(0, i);
  if (!std::regex_match(s.name, kMetricName)) fail("bad metric name", line);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      if (i < line.size() && line[i] == '}') { ++i; break; }
      std::size_t eq = line.find('=', i);
      if (eq == std::string::npos) fail("label without =", line);
      std::string lname = line.substr(i, eq - i);
      if (!std::regex_match(lname, kLabelName)) fail("bad label name", line);
      i = eq + 1;
      if (i >= line.size() || line[i] != '"') fail("label value not quoted", line);
      ++i;
      std::string value;
      while (true) {
        if (i >= line.size()) fail("unterminated label value", line);
        char c = line[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= line.size()) fail("dangling escape", line);
          char e = line[i++];
          if (e == 'n') value += '\n';
          else if (e == '\\' || e == '"') value += e;
          else fail("bad escape", line);
        } else {
          value += c;
        }
      }
      if (!s.labels.emplace(lname, value).second) fail("repeated label", line);
      if (i < line.size() && line[i] == ',') ++i;
      else if (i >= line.size() || line[i] != '}') fail("expected , or }", line);
    }
  }
  if (i >= line.size() || line[i] != ' ') fail("expected a space before the value", line);
  std::string rest = line.substr(i + 1);
  const auto sp = rest.find(' ');
  s.value = parse_value(rest.substr(0, sp), line);
  if (sp != std::string::npos) {
    const std::string ts = rest.substr(sp + 1);
    if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos) fail("bad timestamp", line);
  }
  return s;
}

// The family a sample belongs to: its own name, or for histograms the name without the suffix.
inline std::string family_of(const std::string& sample, const std::map<std::string, FamilyInfo>& families) {
  if (families.count(sample)) return sample;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      const std::string base = sample.substr(0, sample.size() - s.size());
      auto it = families.find(base);
      if (it != families.end() && (it->second.type == "histogram" || it->second.type == "summary")) return base;
    }
  }
  return "";
}

inline void check_histograms(const Exposition& e);

inline Exposition parse_exposition(const std::string& text) {
  Exposition e;
  if (text.empty() || text.back() != '\n') throw std::runtime_error("text must end with a newline");
  std::istringstream in(text);
  std::string line;
  std::string current;  // family whose samples are being read
  std::set<std::string> finished;
  while (std::getline(in, line)) {
    if (line.empty()) fail("blank line", line);
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name;
      words >> hash >> kind >> name;
      if (hash != "#") fail("comment must start with '# '", line);
      if (kind != "HELP" && kind != "TYPE") continue;  // other comments are allowed
      if (!std::regex_match(name, kMetricName)) fail("bad metric name", line);
      if (finished.count(name) || (name != current && e.count(name) > 0)) fail("HELP/TYPE after samples", line);
      FamilyInfo& f = e.families[name];
      if (kind == "HELP") {
        if (f.has_help) fail("second HELP", line);
        f.has_help = true;
        std::getline(words >> std::ws, f.help);
      } else {
        if (!f.type.empty()) fail("second TYPE", line);
        words >> f.type;
        static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(f.type)) fail("unknown type", line);
        e.order.push_back(name);
      }
      if (name != current) {
        if (!current.empty()) finished.insert(current);
        current = name;
      }
      continue;
    }
    Sample s = parse_sample(line);
    const std::string fam = family_of(s.name, e.families);
    if (fam.empty() || e.families[fam].type.empty()) fail("sample without a TYPE line", line);
    if (fam != current) fail("samples of one family must be together", line);
    const std::string& type = e.families[fam].type;
    if (type == "histogram" && s.name == fam) fail("histogram sample without suffix", line);
    if (type == "histogram" && s.name == fam + "_bucket" && !s.labels.count("le")) fail("_bucket without le", line);
    if ((type == "counter" || type == "gauge") && s.value != s.value) fail("NaN", line);
    if (type == "counter" && s.value < 0) fail("negative counter", line);
    e.samples.push_back(std::move(s));
  }
  check_histograms(e);
  return e;
}

// Each histogram series: buckets cumulative and ordered by le, ending in +Inf, which equals _count.
inline void check_histograms(const Exposition& e) {
  for (const auto& [name, info] : e.families) {
    if (info.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> series;
    for (const Sample& s : e.samples) {
      if (s.name != name + "_bucket") continue;
      auto labels = s.labels;
      const double le = parse_value(labels.at("le"), s.name);
      labels.erase("le");
      series[labels].push_back({le, s.value});
    }
    for (const auto& [labels, buckets] : series) {
      for (std::size_t i = 1; i < buckets.size(); ++i) {
        if (!(buckets[i].first > buckets[i - 1].first)) throw std::runtime_error(name + ": le not increasing");
        if (buckets[i].second < buckets[i - 1].second) throw std::runtime_error(name + ": buckets not cumulative");
      }
      if (buckets.empty() || !std::isinf(buckets.back().first)) throw std::runtime_error(name + ": no +Inf bucket");
      if (e.value(name + "_count", labels) != buckets.back().second) {
        throw std::runtime_error(name + ": _count differs from the +Inf bucket");
      }
      e.value(name + "_sum", labels);  // present
    }
  }
}

}  // namespace baton::test::prom
