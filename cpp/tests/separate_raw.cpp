// The C++ path without Python over raw float32 samples, for comparison with the Python
// package in the tests: the preset read by the C++ reader, the engine and, at another rate
// than the preset's, the live resampling chain, exactly as the LV2 plugin runs them.
// Usage: livesep_separate_raw PRESET RATE BLOCK IN.f32 OUT.f32
// OUT holds the outputs interleaved (one per source), latency included; the latency in
// samples is printed on stdout.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "lv2/stream.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: livesep_separate_raw PRESET RATE BLOCK IN.f32 OUT.f32\n");
    return 2;
  }
  try {
    livesep::lv2::Stream stream(argv[1], std::stoi(argv[2]));
    const int block = std::stoi(argv[3]);
    if (block < 1 || block > livesep::lv2::kChunk) throw livesep::ParameterError("bad block size");
    std::ifstream in(argv[4], std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> x(bytes.size() / sizeof(float));
    std::copy_n(bytes.data(), x.size() * sizeof(float), reinterpret_cast<char*>(x.data()));
    const int n = static_cast<int>(x.size()), sources = stream.preset().n_sources();
    std::vector<float> a(block), b(block), mix(block), out(static_cast<std::size_t>(n) * sources);
    float* outs[livesep::lv2::kSourcePorts] = {a.data(), b.data()};
    for (int start = 0; start < n; start += block) {
      const int count = std::min(block, n - start);
      stream.process(x.data() + start, outs, mix.data(), count);
      for (int i = 0; i < count; ++i) {
        for (int s = 0; s < sources; ++s) out[static_cast<std::size_t>(start + i) * sources + s] = outs[s][i];
      }
    }
    std::ofstream(argv[5], std::ios::binary)
        .write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
    std::printf("%d\n", stream.latency_samples());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
  return 0;
}
