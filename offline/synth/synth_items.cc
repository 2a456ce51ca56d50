#include "offline/synth/synth_items.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "offline/synth/synth_random.h"
#include "offline/synth/synth_writer.h"

namespace recsys::synth {
namespace {

constexpr double kTopicZipf = 0.6;        // topic size ~ 1 / rank^0.6
constexpr double kInitialCatalogue = 0.7;  // share of items released at `start`
constexpr double kReleaseSpan = 0.9;      // the rest is released over this share of the span
constexpr int kMaxSeries = 12;            // series lengths are uniform in [1, 12]
constexpr int kSubtopics = 5;
constexpr int kTopicWords = 24;
constexpr int kSubtopicWords = 6;
constexpr int kSharedWords = 200;
constexpr int kWordsPerTopic = kTopicWords + kSubtopics * kSubtopicWords;

// A made-up word of 2-3 consonant-vowel syllables, sometimes closed by a consonant.
std::string MakeWord(Rng& rng) {
  static constexpr char kConsonants[] = "bdfgklmnprstvz";
  static constexpr char kVowels[] = "aeiou";
  std::string w;
  const int syllables = 2 + static_cast<int>(rng.Below(2));
  for (int s = 0; s < syllables; ++s) {
    w += kConsonants[rng.Below(sizeof(kConsonants) - 1)];
    w += kVowels[rng.Below(sizeof(kVowels) - 1)];
  }
  if (rng.Bernoulli(0.3)) w += kConsonants[rng.Below(sizeof(kConsonants) - 1)];
  return w;
}

// Words of topic k at [k * kWordsPerTopic, ...): kTopicWords topic words, then
// kSubtopicWords per sub-topic; the shared words come after every topic's.
std::vector<std::string> MakeVocabulary(uint64_t seed, int64_t topics) {
  std::vector<std::string> words(topics * kWordsPerTopic + kSharedWords);
  for (size_t w = 0; w < words.size(); ++w) {
    Rng rng(StreamSeed(seed, kVocabularyStream, w));
    words[w] = MakeWord(rng);
  }
  return words;
}

// Index in [0, n) skewed towards 0 (density ~ 1 / sqrt(x)).
int64_t SkewedIndex(Rng& rng, int64_t n) {
  const double u = rng.Uniform();
  return std::min<int64_t>(n - 1, static_cast<int64_t>(u * u * n));
}

}  // namespace

absl::Status BuildModel(const SynthOptions& o, Model* m) {
  RETURN_IF_ERROR(ValidateSynthOptions(o));
  const int64_t n = o.items;
  const int64_t topics = o.topics > 0 ? o.topics : DefaultTopics(n);
  SynthItems& it = m->items;
  it.topics = topics;

  // Topics: the first `topics` items found one each, the rest are drawn.
  std::vector<double> topic_weight_cum(topics);
  double acc = 0;
  for (int64_t k = 0; k < topics; ++k) {
    acc += 1.0 / std::pow(static_cast<double>(k + 1), kTopicZipf);
    topic_weight_cum[k] = acc;
  }
  it.topic.resize(n);
  Rng topic_rng(StreamSeed(o.seed, kTopicStream, 0));
  for (int64_t i = 0; i < n; ++i) {
    it.topic[i] = static_cast<int32_t>(
        i < topics ? i : SampleCumulative(topic_weight_cum.data(), topics, topic_rng));
  }

  // Popularity: Zipf(1) over a seeded permutation of the items.
  std::vector<int32_t> rank(n);
  for (int64_t i = 0; i < n; ++i) rank[i] = static_cast<int32_t>(i);
  Rng pop_rng(StreamSeed(o.seed, kPopularityStream, 0));
  for (int64_t i = n - 1; i > 0; --i) std::swap(rank[i], rank[pop_rng.Below(i + 1)]);
  it.popularity.resize(n);
  for (int64_t i = 0; i < n; ++i) it.popularity[i] = 1.0 / (rank[i] + 1.0);

  const int64_t initial = std::max<int64_t>(1, std::llround(std::ceil(kInitialCatalogue * n)));
  const double span = o.years * kSecondsPerYear;
  it.release_s.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    it.release_s[i] =
        i < initial ? o.start_s
                    : o.start_s + static_cast<int64_t>(kReleaseSpan * span * (i - initial + 1) /
                                                       (n - initial));
  }

  // CSR of topic members (index order) and their popularity prefix sums.
  m->topic_begin.assign(topics + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++m->topic_begin[it.topic[i] + 1];
  for (int64_t k = 0; k < topics; ++k) m->topic_begin[k + 1] += m->topic_begin[k];
  m->members.resize(n);
  std::vector<int64_t> fill(m->topic_begin.begin(), m->topic_begin.end() - 1);
  for (int64_t i = 0; i < n; ++i) m->members[fill[it.topic[i]]++] = static_cast<int32_t>(i);
  m->member_cum.resize(n);
  m->topic_cum.resize(topics);
  double topic_acc = 0;
  for (int64_t k = 0; k < topics; ++k) {
    double sum = 0;
    for (int64_t j = m->topic_begin[k]; j < m->topic_begin[k + 1]; ++j) {
      sum += it.popularity[m->members[j]];
      m->member_cum[j] = sum;
    }
    topic_acc += sum;
    m->topic_cum[k] = topic_acc;
  }
  m->global_cum.resize(n);
  double global_acc = 0;
  for (int64_t i = 0; i < n; ++i) m->global_cum[i] = global_acc += it.popularity[i];

  // Series: consecutive members of a topic, lengths uniform in [1, kMaxSeries].
  it.successor.assign(n, -1);
  m->series_head.resize(n);
  m->episode.resize(n);
  m->subtopic.resize(n);
  Rng series_rng(StreamSeed(o.seed, kSeriesStream, 0));
  for (int64_t k = 0; k < topics; ++k) {
    int64_t left = 0;
    int32_t head = -1, prev = -1;
    uint8_t sub = 0;
    for (int64_t j = m->topic_begin[k]; j < m->topic_begin[k + 1]; ++j) {
      const int32_t item = m->members[j];
      if (left == 0) {
        left = 1 + static_cast<int64_t>(series_rng.Below(kMaxSeries));
        head = item;
        sub = static_cast<uint8_t>(series_rng.Below(kSubtopics));
      } else {
        it.successor[prev] = item;
      }
      m->series_head[item] = head;
      m->episode[item] = static_cast<int16_t>(prev >= 0 && head != item ? m->episode[prev] + 1 : 1);
      m->subtopic[item] = sub;
      prev = item;
      --left;
    }
  }
  return absl::OkStatus();
}

absl::Status WriteItems(const SynthOptions& o, const Model& m, const std::string& path,
                        int64_t* bytes) {
  const std::vector<std::string> words = MakeVocabulary(o.seed, m.items.topics);
  const int64_t shared = m.items.topics * kWordsPerTopic;
  ASSIGN_OR_RETURN(auto out, BufferedFile::Create(path));
  out->Append("item,title,text,category\n");
  std::string title_word;
  for (int64_t i = 0; i < o.items; ++i) {
    const int64_t k = m.items.topic[i];
    const int64_t base = k * kWordsPerTopic;
    const int64_t sub_base = base + kTopicWords + m.subtopic[i] * kSubtopicWords;
    out->Append("i");
    out->AppendInt(i);
    out->Append(",");
    // Title: the series' own made-up name and a topic word (shared by the whole
    // series, so content similarity finds the other episodes), then the
    // episode number.
    Rng title_rng(StreamSeed(o.seed, kSeriesTitleStream, m.series_head[i]));
    for (int w = 0; w < 2; ++w) {
      title_word = w == 0 ? MakeWord(title_rng) : words[base + title_rng.Below(kTopicWords)];
      title_word[0] = static_cast<char>(title_word[0] - 'a' + 'A');
      out->Append(title_word);
      out->Append(" ");
    }
    out->AppendInt(m.episode[i]);
    out->Append(",");
    Rng rng(StreamSeed(o.seed, kItemTextStream, i));
    for (int w = 0; w < 5; ++w) {
      out->Append(words[base + SkewedIndex(rng, kTopicWords)]);
      out->Append(" ");
    }
    for (int w = 0; w < 2; ++w) {
      out->Append(words[sub_base + rng.Below(kSubtopicWords)]);
      out->Append(" ");
    }
    out->Append(words[shared + SkewedIndex(rng, kSharedWords)]);
    out->Append(" ");
    out->Append(words[shared + SkewedIndex(rng, kSharedWords)]);
    out->Append(",t");
    out->AppendInt(k);
    out->Append("|t");
    out->AppendInt(k);
    out->Append(".s");
    out->AppendInt(m.subtopic[i]);
    out->Append("\n");
  }
  RETURN_IF_ERROR(out->Close());
  *bytes = out->bytes();
  return absl::OkStatus();
}
}  // namespace recsys::synth
