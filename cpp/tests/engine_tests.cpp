// The engine without Python: streaming STFT, the separator with shipped presets read by the
// C++ preset reader, its real-time contract (block-size independence, strength 0 is the
// input), the rate-chain filters, and the preset reader's errors on damaged files.
// Usage: livesep_engine_tests PRESETS_DIR SCRATCH_DIR
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "livesep/preset.h"
#include "livesep/rate_chain.h"
#include "livesep/separator.h"

namespace {

int failures = 0;

#define CHECK(condition)                                                         \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

std::vector<float> noise(int n, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> x(n);
  for (float& value : x) value = normal(random);
  return x;
}

// Planar n_channels x n output of `separator` over x, in blocks of `block`.
std::vector<float> run(livesep::Separator& separator, const std::vector<float>& x, int block) {
  const int n = static_cast<int>(x.size()), channels = separator.n_channels();
  std::vector<float> out(static_cast<std::size_t>(channels) * n);
  for (int start = 0; start < n; start += block) {
    const int count = std::min(block, n - start);
    separator.process(x.data() + start, 1, out.data() + start, n, 1, count);
  }
  return out;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  }
  return worst;
}

void prepare(livesep::Separator& separator, const livesep::Preset& preset) {
  livesep::SeparatorConfig config;
  config.sample_rate = preset.sr;
  config.n_fft = preset.n_fft;
  config.hop = preset.hop;
  config.n_sources = preset.n_sources();
  separator.prepare(config, std::make_unique<livesep::ModelRuntime>(preset.model, preset.mask_power));
}

void test_stft_reconstructs_with_exact_latency() {
  for (int block : {1, 37, 128, 1000}) {
    livesep::Separator separator;
    livesep::SeparatorConfig config;
    config.n_sources = 1;
    separator.prepare(config, nullptr);
    const std::vector<float> x = noise(8000, 1);
    const std::vector<float> y = run(separator, x, block);
    const int latency = separator.latency_samples();
    CHECK(latency == config.n_fft - 1);
    double worst = 0.0;
    for (int i = latency; i < 8000; ++i) worst = std::max(worst, double(std::abs(y[i] - x[i - latency])));
    CHECK(worst < 1e-5);
  }
}

void test_preset(const std::string& path) {
  const livesep::Preset preset = livesep::PresetReader::load(path);
  CHECK(preset.sr >= 1000 && preset.n_sources() >= 1 && preset.model);
  CHECK(preset.model->n_bins() == preset.n_fft / 2 + 1);
  const std::vector<float> x = noise(6000, 2);
  livesep::Separator whole, pieces;
  prepare(whole, preset);
  prepare(pieces, preset);
  const std::vector<float> a = run(whole, x, 512), b = run(pieces, x, 37);
  CHECK(max_difference(a, b) < 1e-6);  // the stream's cuts do not matter
  // The stems sum to the input, delayed by the latency.
  const int latency = whole.latency_samples(), n = static_cast<int>(x.size());
  double worst = 0.0;
  for (int i = latency; i < n; ++i) {
    float sum = 0.0f;
    for (int c = 0; c < whole.n_channels(); ++c) sum += a[static_cast<std::size_t>(c) * n + i];
    worst = std::max(worst, double(std::abs(sum - x[i - latency])));
  }
  CHECK(worst < 1e-4);
  // At strength 0 the first source is the input, delayed.
  livesep::Separator dry;
  prepare(dry, preset);
  dry.set_strength(0.0f);
  const std::vector<float> d = run(dry, x, 256);
  worst = 0.0;
  for (int i = latency; i < n; ++i) worst = std::max(worst, double(std::abs(d[i] - x[i - latency])));
  CHECK(worst < 1e-5);
}

// A full-band preset with fit_bands_above is fitted bin by bin below it and on 1/12-octave
// bands above (its layers cover every bin); one whose layers stop lower, on those bins and
// one band above (tests/core/test_bands.py); a 16 kHz preset on every bin.
void test_covered_bands(const std::string& presets) {
  const livesep::Preset wide = livesep::PresetReader::load(presets + "/voice-48k.npz");
  const std::vector<int>& edges = wide.model->band_edges;
  CHECK(edges == livesep::octave_band_edges(48000, 1536, 8000.0));
  CHECK(edges.size() > 258 && edges[256] == 256 && edges[257] > 257 && edges.back() == 769);
  CHECK(edges.size() < 300 && wide.model->fit_sources.front().n_bins == int(edges.size()) - 1);
  CHECK(!livesep::PresetReader::load(presets + "/voice.npz").model->banded());
  // A preset's fit_bins: its bands end there, the bins above left to the estimates.
  const livesep::Preset lower = livesep::PresetReader::load(presets + "/bass-drums-nhmm-48k.npz");
  const std::vector<int>& fitted = lower.model->band_edges;
  CHECK(fitted.size() == 232 && fitted.back() == 231 && lower.model->n_bins() == 769);
  CHECK(lower.model->fit_sources.front().n_bins == 231);
}

void test_rate_chain(int device_rate, int engine_rate) {
  const livesep::ChainDesign chain = livesep::design_chain(device_rate, engine_rate, 511);
  for (const livesep::ResamplerDesign* design : {&chain.down, &chain.up}) {
    double sum = 0.0;
    for (float tap : design->taps) sum += tap;
    CHECK(std::abs(sum - design->up) < 1e-3 * design->up);  // unit gain at DC
  }
  CHECK(chain.delay > 511 * device_rate / engine_rate);
  // An impulse comes out of the chain (the engine replaced by a delay of its latency)
  // delay samples later, at its peak.
  livesep::Resampler down, up;
  down.prepare(chain.down.up, chain.down.down, chain.down.taps.data(),
               static_cast<int>(chain.down.taps.size()), 1, 4096);
  up.prepare(chain.up.up, chain.up.down, chain.up.taps.data(),
             static_cast<int>(chain.up.taps.size()), 1, 4096);
  std::vector<float> x(4096, 0.0f), low(4096 + 2), delayed(4096 + 2 + 511, 0.0f), out(16384);
  x[100] = 1.0f;
  const int n_low = down.process(x.data(), 4096, low.data());
  std::copy(low.begin(), low.begin() + n_low, delayed.begin() + 511);
  const int n_out = up.process(delayed.data(), n_low, out.data());
  int peak = 0;
  for (int i = 0; i < n_out; ++i) peak = std::abs(out[i]) > std::abs(out[peak]) ? i : peak;
  CHECK(std::abs(peak - (100 + chain.delay)) <= 1);
}

void expect_preset_error(const std::string& path, const std::string& needle) {
  try {
    livesep::PresetReader::load(path);
    std::fprintf(stderr, "no error for %s\n", path.c_str());
    ++failures;
  } catch (const livesep::PresetError& error) {
    const std::string message = error.what();
    if (message.find(path) == std::string::npos || message.find(needle) == std::string::npos) {
      std::fprintf(stderr, "unexpected message: %s\n", message.c_str());
      ++failures;
    }
  }
}

void test_bad_presets(const std::string& good, const std::string& scratch) {
  expect_preset_error(scratch + "/missing.npz", "no such file");
  std::ifstream stream(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  const std::string truncated = scratch + "/truncated.npz";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_preset_error(truncated, "zip");
  std::string flipped = bytes;
  flipped[bytes.size() / 3] = static_cast<char>(flipped[bytes.size() / 3] ^ 0x55);
  const std::string corrupt = scratch + "/corrupt.npz";
  std::ofstream(corrupt, std::ios::binary) << flipped;
  expect_preset_error(corrupt, "corrupt");
  const std::string text = scratch + "/text.npz";
  std::ofstream(text) << "not a preset";
  expect_preset_error(text, "not a preset file");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: livesep_engine_tests PRESETS_DIR SCRATCH_DIR\n");
    return 2;
  }
  const std::string presets = argv[1], scratch = argv[2];
  test_stft_reconstructs_with_exact_latency();
  for (const char* name : {"speech-noise-nhmm", "speech-noise-nmf", "bass-drums-nmfd", "voice",
                           "voice-48k", "bass-drums-nhmm-48k"}) {
    try {
      test_preset(presets + "/" + name + ".npz");
    } catch (const std::exception& error) {
      std::fprintf(stderr, "%s: %s\n", name, error.what());
      ++failures;
    }
  }
  test_covered_bands(presets);
  for (int rate : {44100, 48000, 22050}) test_rate_chain(rate, 16000);
  test_bad_presets(presets + "/speech-noise-nmf.npz", scratch);
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
}
