// Streaming short-time Fourier analysis and overlap-add synthesis.
//
// Frames of n_fft samples every hop samples, a sqrt-Hann analysis window and a synthesis
// window scaled so that analysis x synthesis overlap-adds to exactly one (perfect
// reconstruction for any hop that divides n_fft at least twice). Any block size n >= 1 goes
// in; the output is the input delayed by exactly latency_samples() = n_fft - 1, the worst
// case over the samples of a frame, so the result does not depend on how the stream is cut
// into blocks.
//
// Low delay (Mauler & Martin, EUSIPCO 2007; Wang et al., arXiv 2204.09911): with a synthesis
// length S = 2 hop < n_fft the analysis window is asymmetric, the rising half of a sqrt-Hann
// of 2 (n_fft - hop) samples then the falling half of one of 2 hop samples, and the
// synthesis window is zero but for the frame's last S samples, where analysis x synthesis is
// a Hann of S samples: frequency resolution from the long frame, delay from the short tail.
// Only the frame's last S samples are synthesised, so latency_samples() = S - 1.
// Dictionaries are fitted on the same n_fft samples through the symmetric sqrt-Hann they
// were trained on (fit_spectrum), a recurrent encoder on the low-delay spectrum itself
// (ModelRuntime::set_low_delay); the masks they give are applied to the low-delay spectrum.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "livesep/errors.h"
#include "livesep/fft.h"

namespace livesep {

// One frame's windowed real FFT and its inverse, with preallocated scratch.
class FrameTransform {
 public:
  // [main-thread] Validates the sizes, builds the windows and plans the FFTs, so that
  // analyze/synthesize never allocate afterwards. synthesis_length 0 (or n_fft): symmetric
  // windows; else the low-delay windows above, with synthesis_length = 2 hop.
  void prepare(int n_fft, int hop, int synthesis_length = 0) {
    if (n_fft < 16 || n_fft > 65536 || n_fft % 4 != 0) {
      throw ParameterError("n_fft must be a multiple of 4 in [16, 65536], got " +
                           std::to_string(n_fft));
    }
    const bool low_delay = synthesis_length != 0 && synthesis_length != n_fft;
    if (low_delay && (synthesis_length < 4 || synthesis_length > n_fft / 2 ||
                      synthesis_length != 2 * hop)) {
      throw ParameterError("a low-delay synthesis length must be twice the hop, in [4, n_fft / "
                           "2] (n_fft=" + std::to_string(n_fft) + ", hop=" +
                           std::to_string(hop) + "), got " + std::to_string(synthesis_length));
    }
    if (!low_delay && (hop < 1 || n_fft % hop != 0 || n_fft / hop < 2)) {
      throw ParameterError("hop must divide n_fft into at least 2 parts (n_fft=" +
                           std::to_string(n_fft) + "), got " + std::to_string(hop));
    }
    n_fft_ = n_fft;
    hop_ = hop;
    synthesis_length_ = low_delay ? synthesis_length : n_fft;
    analysis_window_.assign(n_fft, 0.0f);
    synthesis_window_.assign(n_fft, 0.0f);
    const double pi = std::acos(-1.0);
    fft_.prepare(n_fft);
    std::vector<double> sqrt_hann(n_fft);
    for (int i = 0; i < n_fft; ++i) {
      sqrt_hann[i] = std::sqrt(0.5 - 0.5 * std::cos(2.0 * pi * i / n_fft));  // periodic
    }
    fit_window_.assign(low_delay ? n_fft : 0, 0.0f);
    if (low_delay) {
      std::copy(sqrt_hann.begin(), sqrt_hann.end(), fit_window_.begin());
      build_low_delay_windows();
      return;
    }
    // Overlap-added squared window; constant (n_fft / hop / 2) for a periodic Hann. The
    // synthesis window also takes the inverse FFT's 1 / n_fft.
    for (int i = 0; i < n_fft; ++i) {
      double overlap = 0.0;
      for (int j = i % hop; j < n_fft; j += hop) overlap += sqrt_hann[j] * sqrt_hann[j];
      analysis_window_[i] = static_cast<float>(sqrt_hann[i]);
      synthesis_window_[i] = static_cast<float>(sqrt_hann[i] / overlap / n_fft);
    }
  }

  int n_fft() const noexcept { return n_fft_; }
  // The frame's last synthesis_length() samples are synthesised (n_fft when symmetric).
  int synthesis_length() const noexcept { return synthesis_length_; }
  int hop() const noexcept { return hop_; }
  int n_bins() const noexcept { return n_fft_ / 2 + 1; }
  // Whether the windows are the low-delay pair (the fit then has its own window).
  bool low_delay() const noexcept { return !fit_window_.empty(); }

  // [audio-thread] spectrum[0..n_bins) = rfft(analysis_window * frame[0..n_fft)).
  void analyze(const float* frame, Complex* spectrum) noexcept {
    windowed_fft(frame, analysis_window_.data(), spectrum);
  }

  // [audio-thread] With the low-delay windows: spectrum = rfft(sqrt_hann * frame), the
  // frame as the symmetric analysis sees it (what dictionaries are fitted on).
  void analyze_for_fit(const float* frame, Complex* spectrum) noexcept {
    windowed_fft(frame, fit_window_.data(), spectrum);
  }

  // [audio-thread] accumulator[0..n_fft) += synthesis_window * irfft(spectrum).
  void synthesize_add(const Complex* spectrum, float* accumulator) noexcept {
    fft_.inverse_unscaled(spectrum);
    const float* frame = fft_.time();
    for (int i = 0; i < n_fft_; ++i) accumulator[i] += frame[i] * synthesis_window_[i];
  }

 private:
  // [audio-thread]
  void windowed_fft(const float* frame, const float* window, Complex* spectrum) noexcept {
    float* windowed = fft_.time();
    for (int i = 0; i < n_fft_; ++i) windowed[i] = frame[i] * window[i];
    fft_.forward(spectrum);
  }

  // [main-thread]
  void build_low_delay_windows() {
    const double pi = std::acos(-1.0);
    const int n = n_fft_, hop = hop_, rise = n_fft_ - hop_;
    const auto hann = [pi](double k, double length) {
      return 0.5 - 0.5 * std::cos(2.0 * pi * k / length);
    };
    for (int i = 0; i < n; ++i) {
      const double analysis = i < rise ? std::sqrt(hann(i, 2.0 * rise))
                                       : std::sqrt(hann(i - (n - 2 * hop), 2.0 * hop));
      analysis_window_[i] = static_cast<float>(analysis);
      // A periodic Hann of 2 hop over the last 2 hop samples overlap-adds to one at hop.
      const double product = i >= n - 2 * hop ? hann(i - (n - 2 * hop), 2.0 * hop) : 0.0;
      synthesis_window_[i] = analysis > 0.0 ? static_cast<float>(product / analysis / n) : 0.0f;
    }
  }

  int n_fft_ = 0;
  int hop_ = 0;
  int synthesis_length_ = 0;
  std::vector<float> analysis_window_;
  std::vector<float> synthesis_window_;  // includes the inverse FFT's 1 / n_fft
  std::vector<float> fit_window_;        // low delay only: the symmetric sqrt-Hann
  RealFft fft_;
};

// Input framing, per-channel overlap-add and the fixed output delay around a frame callback.
class StreamingStft {
 public:
  // [main-thread] Allocates every buffer for n_channels output channels.
  void prepare(int n_fft, int hop, int n_channels, int synthesis_length = 0) {
    if (n_channels < 1 || n_channels > 64) {
      throw ParameterError("the number of output channels must be in [1, 64], got " +
                           std::to_string(n_channels));
    }
    transform_.prepare(n_fft, hop, synthesis_length);
    n_channels_ = n_channels;
    input_frame_.assign(n_fft, 0.0f);
    spectrum_.assign(transform_.n_bins(), Complex(0.0f, 0.0f));
    fit_spectrum_.assign(transform_.low_delay() ? transform_.n_bins() : 0,
                         Complex(0.0f, 0.0f));
    channel_spectra_.assign(static_cast<std::size_t>(n_channels) * transform_.n_bins(),
                            Complex(0.0f, 0.0f));
    accumulators_.assign(static_cast<std::size_t>(n_channels) * n_fft, 0.0f);
    ready_.assign(static_cast<std::size_t>(n_channels) * hop, 0.0f);
    dry_.assign(static_cast<std::size_t>(n_channels), 0);
    reset();
  }

  // [audio-thread] Back to the state right after prepare: silence in the pipeline.
  void reset() noexcept {
    std::fill(input_frame_.begin(), input_frame_.end(), 0.0f);
    std::fill(accumulators_.begin(), accumulators_.end(), 0.0f);
    std::fill(ready_.begin(), ready_.end(), 0.0f);
    filled_ = 0;
    // hop - 1 samples of silence precede the first frame's output (see latency_samples).
    ready_read_ = 1;
  }

  int n_fft() const noexcept { return transform_.n_fft(); }
  int hop() const noexcept { return transform_.hop(); }
  int n_bins() const noexcept { return transform_.n_bins(); }
  int n_channels() const noexcept { return n_channels_; }
  int synthesis_length() const noexcept { return transform_.synthesis_length(); }
  int latency_samples() const noexcept { return transform_.synthesis_length() - 1; }
  bool low_delay() const noexcept { return transform_.low_delay(); }
  FrameTransform& transform() noexcept { return transform_; }
  // [audio-thread] From the frame callback: the newest frame's spectrum for fitting
  // dictionaries, through the symmetric window; the mixture passed to the callback itself
  // when the windows are symmetric.
  const Complex* fit_spectrum() const noexcept {
    return transform_.low_delay() ? fit_spectrum_.data() : spectrum_.data();
  }

  // [audio-thread] From the frame callback: channel c's output for this frame is the
  // input itself (its spectrum must be the mixture, unchanged). Its hop of output is then
  // the delayed input sample for sample, not its resynthesis (equal up to float rounding,
  // which a pass-through should not add); the overlap-add goes on, so the next frame that
  // is not dry continues seamlessly.
  void set_dry(int channel, bool dry) noexcept { dry_[static_cast<std::size_t>(channel)] = dry; }

  // [audio-thread] Streams n samples through. in[i * in_stride] is sample i (non-finite and
  // denormal samples are read as zero); out[c * channel_stride + i * sample_stride] receives
  // channel c of output sample i (finite: a sample that overflowed is written as zero).
  // Every hop input samples, on_frame(const Complex* mixture, Complex* channels) is called
  // once: mixture holds n_bins bins of the newest frame and channels (n_channels x n_bins,
  // row-major) must be filled with each channel's spectrum.
  template <class OnFrame>
  void process(const float* in, std::ptrdiff_t in_stride, float* out,
               std::ptrdiff_t channel_stride, std::ptrdiff_t sample_stride, int n,
               OnFrame&& on_frame) noexcept {
    const int n_fft = transform_.n_fft();
    const int hop = transform_.hop();
    float* newest = input_frame_.data() + (n_fft - hop);
    int done = 0;
    while (done < n) {
      const int take = std::min(n - done, hop - filled_);
      for (int i = 0; i < take; ++i) {
        const float x = in[(done + i) * in_stride];
        // Flushed here, not only in arithmetic: a dry channel outputs these very samples.
        newest[filled_ + i] = std::isnormal(x) ? x : 0.0f;
      }
      filled_ += take;
      const bool frame_due = filled_ == hop;
      // The sample completing a frame is output from that frame's result.
      emit(out, channel_stride, sample_stride, done, frame_due ? take - 1 : take);
      if (frame_due) {
        run_frame(on_frame);
        emit(out, channel_stride, sample_stride, done + take - 1, 1);
        filled_ = 0;
      }
      done += take;
    }
  }

 private:
  void emit(float* out, std::ptrdiff_t channel_stride, std::ptrdiff_t sample_stride, int first,
            int count) noexcept {
    const int hop = transform_.hop();
    for (int c = 0; c < n_channels_; ++c) {
      const float* ready = ready_.data() + static_cast<std::size_t>(c) * hop;
      float* dst = out + c * channel_stride;
      // Finite input near the float maximum (or times a large gain) overflows the
      // transforms; what overflowed goes out as silence. It leaves the overlap-add within
      // n_fft / hop frames.
      for (int i = 0; i < count; ++i) {
        const float sample = ready[ready_read_ + i];
        dst[(first + i) * sample_stride] = std::isfinite(sample) ? sample : 0.0f;
      }
    }
    ready_read_ += count;
  }

  template <class OnFrame>
  void run_frame(OnFrame&& on_frame) noexcept {
    const int n_fft = transform_.n_fft();
    const int hop = transform_.hop();
    const int n_bins = transform_.n_bins();
    if (transform_.low_delay()) {
      transform_.analyze_for_fit(input_frame_.data(), fit_spectrum_.data());
    }
    transform_.analyze(input_frame_.data(), spectrum_.data());
    on_frame(static_cast<const Complex*>(spectrum_.data()), channel_spectra_.data());
    for (int c = 0; c < n_channels_; ++c) {
      float* acc = accumulators_.data() + static_cast<std::size_t>(c) * n_fft;
      transform_.synthesize_add(channel_spectra_.data() + static_cast<std::size_t>(c) * n_bins,
                                acc);
      float* ready = ready_.data() + static_cast<std::size_t>(c) * hop;
      // The oldest hop of the synthesised part of the frame is complete now; it is what
      // this hop of output delays by latency (the same part of the input when dry).
      const int first = n_fft - transform_.synthesis_length();
      const float* source = dry_[static_cast<std::size_t>(c)] ? input_frame_.data() : acc;
      std::copy(source + first, source + first + hop, ready);
      std::copy(acc + hop, acc + n_fft, acc);
      std::fill(acc + (n_fft - hop), acc + n_fft, 0.0f);
    }
    std::copy(input_frame_.begin() + hop, input_frame_.end(), input_frame_.begin());
    ready_read_ = 0;
  }

  FrameTransform transform_;
  int n_channels_ = 0;
  std::vector<float> input_frame_;       // the last n_fft input samples, oldest first
  std::vector<Complex> spectrum_;        // n_bins
  std::vector<Complex> fit_spectrum_;    // n_bins with the low-delay windows, else empty
  std::vector<Complex> channel_spectra_; // n_channels x n_bins
  std::vector<float> accumulators_;      // n_channels x n_fft overlap-add sums
  std::vector<float> ready_;             // n_channels x hop finished samples
  std::vector<char> dry_;                // per channel: this frame's output is the input
  int filled_ = 0;                       // new input samples in the current hop
  int ready_read_ = 0;                   // next sample of ready_ to output
};

}  // namespace livesep
