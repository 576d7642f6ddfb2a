// Activations for a fixed dictionary: minimise d_beta(v | D h) + l1 * sum(h) over h >= 0 by
// multiplicative updates, one frame at a time, warm-started by the caller.
//
// D is given as column blocks D = [D_0 ... D_{m-1}] (each F x K_i, column-major float32) so
// that a joint state's dictionary [W_1[q_1] ... W_S[q_S]] is used in place, never copied.
// Nothing here allocates; scratch space is sized once by the owner.
//
// Frequency vectors and dictionary columns are padded with zeros to a multiple of
// kPaddedFloats and start on Eigen's maximal alignment: vectorised reductions then never peel
// a misaligned head, so results do not depend on where a buffer happens to sit in memory
// (identical output whatever the block size or instance).
#pragma once

#include <Eigen/Core>
#include <Eigen/StdVector>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace livesep {

using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using VectorF = Eigen::VectorXf;
using AlignedFloats = std::vector<float, Eigen::aligned_allocator<float>>;
using ConstMatrixMap = Eigen::Map<const MatrixF, Eigen::AlignedMax>;
using VectorMap = Eigen::Map<VectorF>;
using ConstVectorMap = Eigen::Map<const VectorF>;

constexpr int kPaddedFloats = 16;
// Rows of a frequency vector holding n_bins bins, padded for alignment.
constexpr int padded_rows(int n_bins) {
  return (n_bins + kPaddedFloats - 1) / kPaddedFloats * kPaddedFloats;
}

enum class Divergence { ItakuraSaito = 0, KullbackLeibler = 1, Euclidean = 2 };

struct ActivationSettings {
  Divergence divergence = Divergence::KullbackLeibler;
  float l1 = 0.0f;  // sparsity weight on h, in units of the normalised frame
  int n_iter = 10;
  // Floor added to the model D h against division by zero, relative to a unit-sum frame.
  float epsilon = 1e-9f;
};

// A dictionary as up to kMaxBlocks column blocks sharing n_rows = padded_rows(bins) rows
// (zero in the padding), each block aligned.
struct DictionaryBlocks {
  static constexpr int kMaxBlocks = 16;
  int n_blocks = 0;
  int n_rows = 0;
  const float* data[kMaxBlocks] = {};
  int n_components[kMaxBlocks] = {};

  int total_components() const noexcept {
    int total = 0;
    for (int b = 0; b < n_blocks; ++b) total += n_components[b];
    return total;
  }
  ConstMatrixMap block(int b) const noexcept {
    return ConstMatrixMap(data[b], n_rows, n_components[b]);
  }
};

// Working memory for one solver call, allocated by the owner on the main thread.
struct ActivationScratch {
  VectorF model;        // rows: D h + epsilon
  VectorF ratio;        // rows: what the divergence's gradient needs of the model
  VectorF aux;          // rows: second gradient term (Itakura-Saito)
  VectorF numerator;    // K total (Kullback-Leibler: padded to a multiple of 4)
  VectorF denominator;  // K total (likewise)
  VectorF activations;  // K total padded: the Kullback-Leibler kernel's copy of h
  VectorF zeros;        // rows: the zero column that pads the Kullback-Leibler kernel's K
  std::vector<const float*> columns;  // K total padded: the kernel's dictionary columns

  // [main-thread]
  void resize(int n_rows, int max_components) {
    const int padded = (max_components + 3) / 4 * 4;
    model.setZero(n_rows);
    ratio.setZero(n_rows);
    aux.setZero(n_rows);
    zeros.setZero(n_rows);
    numerator.setZero(padded);
    denominator.setZero(padded);
    activations.setZero(padded);
    columns.assign(static_cast<std::size_t>(padded), nullptr);
  }
};

// [audio-thread] out = D h + epsilon (+ fixed, a fixed part of the model, if given).
inline void reconstruct(const DictionaryBlocks& dictionary, const float* h, float epsilon,
                        const VectorF* fixed, VectorF& out) noexcept {
  if (fixed != nullptr) {
    out = fixed->array() + epsilon;
  } else {
    out.setConstant(epsilon);
  }
  int offset = 0;
  for (int b = 0; b < dictionary.n_blocks; ++b) {
    const int k = dictionary.n_components[b];
    out.noalias() += dictionary.block(b) * ConstVectorMap(h + offset, k);
    offset += k;
  }
}

// [audio-thread] out[block rows] = D_b^T x for every block.
inline void transpose_multiply(const DictionaryBlocks& dictionary, const VectorF& x,
                               VectorF& out) noexcept {
  int offset = 0;
  for (int b = 0; b < dictionary.n_blocks; ++b) {
    const int k = dictionary.n_components[b];
    out.segment(offset, k).noalias() = dictionary.block(b).transpose() * x;
    offset += k;
  }
}

namespace detail {

// The widest float vector the target has: one register (16 floats with AVX-512, 8 with AVX,
// else 4); kPaddedFloats is a multiple of it.
#if defined(__AVX512F__)
constexpr int kLaneFloats = 16;
#elif defined(__AVX__)
constexpr int kLaneFloats = 8;
#else
constexpr int kLaneFloats = 4;
#endif
static_assert(kPaddedFloats % kLaneFloats == 0, "rows are padded to whole lanes");
typedef float Lane __attribute__((vector_size(kLaneFloats * sizeof(float))));
typedef float Quad __attribute__((vector_size(4 * sizeof(float))));

inline Lane load_lane(const float* p) noexcept {
  Lane v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A tree of additions (a chain of scalar ones would cost more than the products).
inline float lane_sum(Lane v) noexcept {
  Quad quad;
#if defined(__AVX512F__)
  typedef float Octet __attribute__((vector_size(8 * sizeof(float))));
  const Octet octet = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                      __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  quad = __builtin_shufflevector(octet, octet, 0, 1, 2, 3) +
         __builtin_shufflevector(octet, octet, 4, 5, 6, 7);
#elif defined(__AVX__)
  quad = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
#else
  quad = v;
#endif
  return (quad[0] + quad[2]) + (quad[1] + quad[3]);
}

// How many lanes of rows one model tile holds at most. Measured with AVX-512: 4 beats 2
// (too few independent accumulators), 5 and 8 (a tile's columns then overflow the L1 cache
// sooner).
constexpr int kMaxTileLanes = 4;

// [audio-thread] For the Lanes lanes of rows from row on: the model m = D h + offset +
// epsilon, then out = frame / m (when frame is given) or out = m. Each column's activation is
// broadcast once per tile and every product goes to its own lane's accumulator, so the
// loads are the dictionary's and nothing else.
template <int Lanes>
inline void model_tile(const float* const* __restrict columns, int n_components, int row,
                       const float* __restrict offset, float epsilon, const float* __restrict h,
                       const float* __restrict frame, float* __restrict out) noexcept {
  Lane model[Lanes];
  for (int j = 0; j < Lanes; ++j) {
    model[j] = offset != nullptr ? load_lane(offset + row + j * kLaneFloats) + epsilon
                                 : Lane{} + epsilon;
  }
  for (int k = 0; k < n_components; ++k) {
    const float* column = columns[k] + row;
    const float activation = h[k];
    for (int j = 0; j < Lanes; ++j) model[j] += load_lane(column + j * kLaneFloats) * activation;
  }
  for (int j = 0; j < Lanes; ++j) {
    const Lane value =
        frame != nullptr ? load_lane(frame + row + j * kLaneFloats) / model[j] : model[j];
    std::memcpy(out + row + j * kLaneFloats, &value, sizeof value);
  }
}

// [audio-thread] model_tile over all n_rows rows, in tiles of at most kMaxTileLanes lanes
// split as evenly as possible (17 lanes: 3, 3, 3, 4, 4), so that no tile is left with too
// few accumulators.
inline void model_rows(const float* const* __restrict columns, int n_components, int n_rows,
                       const float* __restrict offset, float epsilon, const float* __restrict h,
                       const float* __restrict frame, float* __restrict out) noexcept {
  const int n_lanes = n_rows / kLaneFloats;
  const int n_tiles = (n_lanes + kMaxTileLanes - 1) / kMaxTileLanes;
  int lane = 0;
  for (int tile = 0; tile < n_tiles; ++tile) {
    const int lanes = (n_lanes - lane) / (n_tiles - tile);
    const int row = lane * kLaneFloats;
    switch (lanes) {
#define LIVESEP_MODEL_TILE(n)                                                                 \
  case n:                                                                                    \
    model_tile<n>(columns, n_components, row, offset, epsilon, h, frame, out);               \
    break;
      LIVESEP_MODEL_TILE(1) LIVESEP_MODEL_TILE(2) LIVESEP_MODEL_TILE(3) LIVESEP_MODEL_TILE(4)
#undef LIVESEP_MODEL_TILE
      default: break;  // unreachable: 1 <= lanes <= kMaxTileLanes
    }
    lane += lanes;
  }
}

#if defined(__AVX512F__)
// Pairwise folds for summing 16 lanes of many accumulators at once: fold_n(x, y) adds the
// two halves of each run of n lanes of x and of y, and packs the results (first x's, then
// y's). Starting from accumulators a, b: fold_16(a, b) holds 8 partial sums of a, then 8 of
// b; four levels turn 16 accumulators into one vector of their 16 sums, in order: about 1
// shuffle-add per sum instead of 4 for each accumulator alone.
inline Lane fold_16(Lane x, Lane y) noexcept {
  return __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
         __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30,
                                 31);
}
inline Lane fold_8(Lane x, Lane y) noexcept {
  return __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
         __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
}
inline Lane fold_4(Lane x, Lane y) noexcept {
  return __builtin_shufflevector(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
         __builtin_shufflevector(x, y, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
}
inline Lane fold_2(Lane x, Lane y) noexcept {
  return __builtin_shufflevector(x, y, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
         __builtin_shufflevector(x, y, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

// out[j] = sum of the lanes of sum[j], j < Count <= 16.
template <int Count>
inline void lane_sums(const Lane* sum, float* out) noexcept {
  static_assert(Count <= 16, "one vector holds 16 sums");
  const Lane zero = Lane{} + 0.0f;
  auto at = [&](int j) { return j < Count ? sum[j] : zero; };
  Lane level1[8], level2[4], level3[2];
  for (int j = 0; j < 8; ++j) {
    level1[j] = 2 * j < Count ? fold_16(at(2 * j), at(2 * j + 1)) : zero;
  }
  for (int j = 0; j < 4; ++j) {
    level2[j] = 4 * j < Count ? fold_8(level1[2 * j], level1[2 * j + 1]) : zero;
  }
  for (int j = 0; j < 2; ++j) {
    level3[j] = 8 * j < Count ? fold_4(level2[2 * j], level2[2 * j + 1]) : zero;
  }
  const Lane sums = fold_2(level3[0], level3[1]);
  for (int j = 0; j < Count; ++j) out[j] = sums[j];
}
#else
template <int Count>
inline void lane_sums(const Lane* sum, float* out) noexcept {
  for (int j = 0; j < Count; ++j) out[j] = lane_sum(sum[j]);
}
#endif

// [audio-thread] gradient[k0 + j] = column (k0 + j) . ratio for j < Columns: the ratio lane
// is loaded once for all Columns accumulators.
template <int Columns>
inline void gradient_group(const float* const* __restrict columns, int k0, int n_rows,
                           const float* __restrict ratio, float* __restrict gradient) noexcept {
  Lane sum[Columns];
  const float* column[Columns];
  for (int j = 0; j < Columns; ++j) {
    sum[j] = Lane{} + 0.0f;
    column[j] = columns[k0 + j];
  }
  for (int row = 0; row < n_rows; row += kLaneFloats) {
    const Lane r = load_lane(ratio + row);
    for (int j = 0; j < Columns; ++j) sum[j] += load_lane(column[j] + row) * r;
  }
  lane_sums<Columns>(sum, gradient + k0);
}

// [audio-thread] n_iter Kullback-Leibler updates h_k *= (D^T (v / (D h + offset + eps)))_k /
// denominator_k of K activations (K a multiple of 4) in two passes per iteration: the model
// and the ratio, tile by tile of rows (model_rows), then the gradient sums eight columns at a
// time. With AVX-512 and a dictionary that fits the L1 cache this keeps about two
// multiply-adds a cycle busy. Against the previous kernel (two lanes of rows, four columns,
// one reduction per column): 1.13 times as fast per frame of the N-FHMM benchmark (2 x 10
// components, beam 128); equal at 2 x 32, where the dictionary overflows the L1 cache.
// ratio: n_rows floats; gradient: K floats.
inline void fused_kl_updates(const float* const* __restrict columns, int n_components,
                             int n_rows, const float* __restrict frame,
                             const float* __restrict offset, float epsilon,
                             const float* __restrict denominator, int n_iter,
                             float* __restrict h, float* __restrict ratio,
                             float* __restrict gradient) noexcept {
  for (int iteration = 0; iteration < n_iter; ++iteration) {
    model_rows(columns, n_components, n_rows, offset, epsilon, h, frame, ratio);
    // h changes only after every gradient is summed (a simultaneous update, as in the paper).
    // Eight accumulators keep two multiply-adds a cycle busy; more (or uneven groups)
    // measured slower.
    int k = 0;
    for (; k + 8 <= n_components; k += 8) gradient_group<8>(columns, k, n_rows, ratio, gradient);
    for (; k < n_components; k += 4) gradient_group<4>(columns, k, n_rows, ratio, gradient);
    for (k = 0; k < n_components; ++k) h[k] *= gradient[k] / denominator[k];
  }
}

}  // namespace detail

// [audio-thread] update_activations for Kullback-Leibler: the denominator is column sum + l1;
// K is padded to a multiple of 4 with zero columns and zero activations (which stay zero).
inline void update_kl(const DictionaryBlocks& dictionary, const float* column_sums,
                      const VectorF& frame, float* h, const ActivationSettings& settings,
                      ActivationScratch& scratch, const VectorF* offset) noexcept {
  const int n_components = dictionary.total_components();
  const int padded = (n_components + 3) / 4 * 4;
  int k = 0;
  for (int b = 0; b < dictionary.n_blocks; ++b) {
    for (int j = 0; j < dictionary.n_components[b]; ++j, ++k) {
      scratch.columns[k] = dictionary.data[b] + static_cast<std::ptrdiff_t>(j) * dictionary.n_rows;
    }
  }
  for (; k < padded; ++k) scratch.columns[k] = scratch.zeros.data();
  float* activations = scratch.activations.data();
  float* denominator = scratch.denominator.data();
  for (k = 0; k < n_components; ++k) {
    activations[k] = h[k];
    denominator[k] = std::max(column_sums[k] + settings.l1, 1e-30f);
  }
  for (; k < padded; ++k) {
    activations[k] = 0.0f;
    denominator[k] = 1.0f;
  }
  const float* fixed = offset != nullptr ? offset->data() : nullptr;
  detail::fused_kl_updates(scratch.columns.data(), padded, dictionary.n_rows, frame.data(),
                           fixed, settings.epsilon, denominator, settings.n_iter, activations,
                           scratch.ratio.data(), scratch.numerator.data());
  std::copy(activations, activations + n_components, h);
  detail::model_rows(scratch.columns.data(), padded, dictionary.n_rows, fixed, settings.epsilon,
                     activations, nullptr, scratch.model.data());
}

// [audio-thread] Runs settings.n_iter multiplicative updates of h (length
// dictionary.total_components(), updated in place) for the frame v (an aligned vector of
// n_rows, zero in the padding, scaled to sum to one by the caller). column_sums holds the
// sum of each dictionary column (1 for normalised dictionaries); Kullback-Leibler needs it as
// its gradient's constant term. offset, if given, is a fixed non-negative part of the model
// (a convolutive source's past frames): v ~ D h + offset. On return scratch.model holds the
// model D h + offset + epsilon for the updated h.
inline void update_activations(const DictionaryBlocks& dictionary, const float* column_sums,
                               const VectorF& frame, float* h,
                               const ActivationSettings& settings,
                               ActivationScratch& scratch,
                               const VectorF* offset = nullptr) noexcept {
  if (settings.divergence == Divergence::KullbackLeibler) {
    update_kl(dictionary, column_sums, frame, h, settings, scratch, offset);
    return;
  }
  const int n_components = dictionary.total_components();
  VectorMap activations(h, n_components);
  auto numerator = scratch.numerator.head(n_components);
  auto denominator = scratch.denominator.head(n_components);
  const float tiny = 1e-30f;
  for (int iteration = 0; iteration < settings.n_iter; ++iteration) {
    reconstruct(dictionary, h, settings.epsilon, offset, scratch.model);
    if (settings.divergence == Divergence::Euclidean) {
      transpose_multiply(dictionary, frame, scratch.numerator);
      transpose_multiply(dictionary, scratch.model, scratch.denominator);
    } else {  // Itakura-Saito
      scratch.aux = scratch.model.cwiseInverse();
      scratch.ratio = frame.array() * scratch.aux.array().square();
      transpose_multiply(dictionary, scratch.ratio, scratch.numerator);
      transpose_multiply(dictionary, scratch.aux, scratch.denominator);
    }
    denominator.array() += settings.l1;
    activations.array() *= numerator.array() / denominator.array().max(tiny);
  }
  reconstruct(dictionary, h, settings.epsilon, offset, scratch.model);
}

}  // namespace livesep
