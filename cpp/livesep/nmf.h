// Activations for a fixed dictionary: minimise d_beta(v | D h) + l1 * sum(h) over h >= 0 by
// multiplicative updates, one frame at a time, warm-started by the caller.
//
// D is given as column blocks D = [D_0 ... D_{m-1}] (each F x K_i, column-major float32, and
// a copy in row tiles for Kullback-Leibler, made once by the owner) so that a joint state's
// dictionary [W_1[q_1] ... W_S[q_S]] is used in place, never copied per frame. Nothing here
// allocates; scratch space is sized once by the owner.
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
#include <type_traits>
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
// (zero in the padding), each block aligned, and (for Kullback-Leibler) each block also in
// the row-tile layout of tile_dictionary.
struct DictionaryBlocks {
  static constexpr int kMaxBlocks = 16;
  int n_blocks = 0;
  int n_rows = 0;
  const float* data[kMaxBlocks] = {};
  const float* tiled[kMaxBlocks] = {};
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

// Components rounded up to whole groups of 16 (the Kullback-Leibler kernel's reductions).
constexpr int padded_components(int n_components) { return (n_components + 15) / 16 * 16; }

// Working memory for one solver call, allocated by the owner on the main thread.
struct ActivationScratch {
  VectorF model;         // rows: D h + epsilon
  VectorF ratio;         // rows: what the divergence's gradient needs of the model
  VectorF aux;           // rows: second gradient term (Itakura-Saito)
  VectorF numerator;     // padded_components(K)
  VectorF denominator;   // padded_components(K)
  AlignedFloats column_lanes;  // padded_components(K) x 16: Kullback-Leibler's column sums

  // [main-thread]
  void resize(int n_rows, int max_components) {
    const int padded = padded_components(max_components);
    model.setZero(n_rows);
    ratio.setZero(n_rows);
    aux.setZero(n_rows);
    numerator.setZero(padded);
    denominator.setZero(padded);
    column_lanes.assign(static_cast<std::size_t>(padded) * kPaddedFloats, 0.0f);
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

inline void store_lane(float* p, Lane v) noexcept { std::memcpy(p, &v, sizeof v); }

// The Kullback-Leibler kernel reads dictionaries in row tiles: the n_rows / kLaneFloats lanes
// of rows are split into tiles of at most kMaxTileLanes lanes, as evenly as possible (17
// lanes: 8, 9), and a tiled dictionary stores tile after tile, each tile's columns one after
// the other (tile_dictionary). A tile's model then stays in registers and its columns in the
// L1 cache between the model and the gradient, and its reads are sequential. Measured
// against two passes over column-major storage, per fit of 2 x 32 components: 1.32 times as
// fast with AVX-512, 1.26 with AVX2, 1.05 with SSE2; equal within 3 % at 2 x 10, whose
// dictionary fits the L1 either way. 9 lanes beat 4 to 8 and 12 to 17 (too few independent
// sums, or too few registers).
constexpr int kMaxTileLanes = 9;

// Calls visit(first_lane, lanes) for each row tile of n_rows rows, in order or (reverse)
// from the last. The first tiles have n_lanes / n_tiles lanes, the last n_lanes % n_tiles
// one more.
template <class Visit>
inline void for_each_tile(int n_rows, bool reverse, Visit&& visit) noexcept {
  const int n_lanes = n_rows / kLaneFloats;
  const int n_tiles = (n_lanes + kMaxTileLanes - 1) / kMaxTileLanes;
  const int narrow = n_lanes / n_tiles;
  const int first_wide = n_tiles - n_lanes % n_tiles;
  for (int i = 0; i < n_tiles; ++i) {
    const int tile = reverse ? n_tiles - 1 - i : i;
    visit(tile * narrow + std::max(0, tile - first_wide), narrow + (tile >= first_wide ? 1 : 0));
  }
}

// Calls op(std::integral_constant<int, lanes>()) for 1 <= lanes <= kMaxTileLanes.
template <class Op>
inline void with_lanes(int lanes, Op&& op) noexcept {
  switch (lanes) {
#define LIVESEP_LANES(n)                  \
  case n:                                 \
    op(std::integral_constant<int, n>()); \
    break;
    LIVESEP_LANES(1) LIVESEP_LANES(2) LIVESEP_LANES(3) LIVESEP_LANES(4) LIVESEP_LANES(5)
    LIVESEP_LANES(6) LIVESEP_LANES(7) LIVESEP_LANES(8) LIVESEP_LANES(9)
#undef LIVESEP_LANES
    default: break;  // unreachable: for_each_tile never exceeds kMaxTileLanes
  }
}

// Calls visit(k, rows) for every column k of the dictionary (all blocks, in order), rows
// pointing to its Lanes lanes from row on in the tiled copy.
template <int Lanes, class Visit>
inline void for_each_tile_column(const DictionaryBlocks& dictionary, int row,
                                 Visit&& visit) noexcept {
  int k = 0;
  for (int b = 0; b < dictionary.n_blocks; ++b) {
    const int n_components = dictionary.n_components[b];
    const float* column = dictionary.tiled[b] + static_cast<std::ptrdiff_t>(row) * n_components;
    for (int j = 0; j < n_components; ++j, ++k, column += Lanes * kLaneFloats) visit(k, column);
  }
}

// [audio-thread] model = D h + offset + epsilon on the Lanes lanes from row on. Each
// activation is broadcast once per tile; the only loads are the dictionary's.
template <int Lanes>
inline void tile_model(const DictionaryBlocks& dictionary, int row, const float* offset,
                       float epsilon, const float* __restrict h, Lane* model) noexcept {
  for (int i = 0; i < Lanes; ++i) {
    model[i] = offset != nullptr ? load_lane(offset + row + i * kLaneFloats) + epsilon
                                 : Lane{} + epsilon;
  }
  for_each_tile_column<Lanes>(dictionary, row, [&](int k, const float* __restrict column) {
    const float activation = h[k];
    for (int i = 0; i < Lanes; ++i) model[i] += load_lane(column + i * kLaneFloats) * activation;
  });
}

// [audio-thread] One tile's share of an update: its model, the ratio frame / model, and
// sums[k] (one lane per column) += its rows of column k times the ratio (= for the First
// tile of an iteration).
template <int Lanes, bool First>
inline void tile_gradient(const DictionaryBlocks& dictionary, int row, const float* offset,
                          float epsilon, const float* __restrict h,
                          const float* __restrict frame, float* __restrict sums) noexcept {
  Lane ratio[Lanes];
  tile_model<Lanes>(dictionary, row, offset, epsilon, h, ratio);
  for (int i = 0; i < Lanes; ++i) ratio[i] = load_lane(frame + row + i * kLaneFloats) / ratio[i];
  for_each_tile_column<Lanes>(dictionary, row, [&](int k, const float* __restrict column) {
    Lane sum = First ? Lane{} + 0.0f : load_lane(sums + k * kLaneFloats);
    for (int i = 0; i < Lanes; ++i) sum += load_lane(column + i * kLaneFloats) * ratio[i];
    store_lane(sums + k * kLaneFloats, sum);
  });
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

// [audio-thread] n_iter Kullback-Leibler updates h_k *= (D^T (v / (D h + offset + eps)))_k /
// denominator_k, tile by tile (one read of the dictionary per iteration), then the lanes of
// the K column sums reduced 16 columns at a time. sums: K lanes; gradient:
// padded_components(K) floats.
inline void kl_updates(const DictionaryBlocks& dictionary, const float* __restrict frame,
                       const float* offset, float epsilon, const float* __restrict denominator,
                       int n_iter, float* __restrict h, float* __restrict sums,
                       float* __restrict gradient) noexcept {
  const int n_components = dictionary.total_components();
  for (int iteration = 0; iteration < n_iter; ++iteration) {
    // Every other iteration runs the tiles backwards: it starts on the tile the last one
    // ended on, still in the L1 cache (2 x 32 components: 1.2 times as fast per fit).
    bool first_tile = true;
    for_each_tile(dictionary.n_rows, iteration % 2 == 1, [&](int first, int lanes) {
      with_lanes(lanes, [&](auto tile_lanes) {
        constexpr int kLanes = decltype(tile_lanes)::value;
        const int row = first * kLaneFloats;
        if (first_tile) {
          tile_gradient<kLanes, true>(dictionary, row, offset, epsilon, h, frame, sums);
        } else {
          tile_gradient<kLanes, false>(dictionary, row, offset, epsilon, h, frame, sums);
        }
      });
      first_tile = false;
    });
    // h changes only after every gradient is summed (a simultaneous update, as in the paper).
    for (int k = 0; k < n_components; k += 16) {
      Lane group[16];
      for (int j = 0; j < 16; ++j) {
        group[j] = k + j < n_components ? load_lane(sums + (k + j) * kLaneFloats) : Lane{} + 0.0f;
      }
      lane_sums<16>(group, gradient + k);
    }
    for (int k = 0; k < n_components; ++k) h[k] *= gradient[k] / denominator[k];
  }
}

// [audio-thread] out = D h + offset + epsilon over all rows.
inline void kl_model(const DictionaryBlocks& dictionary, const float* offset, float epsilon,
                     const float* h, float* out, bool reverse) noexcept {
  for_each_tile(dictionary.n_rows, reverse, [&](int first, int lanes) {
    with_lanes(lanes, [&](auto tile_lanes) {
      constexpr int kLanes = decltype(tile_lanes)::value;
      Lane model[kLanes];
      const int row = first * kLaneFloats;
      tile_model<kLanes>(dictionary, row, offset, epsilon, h, model);
      for (int i = 0; i < kLanes; ++i) store_lane(out + row + i * kLaneFloats, model[i]);
    });
  });
}

}  // namespace detail

// [audio-thread] out[0..n_rows) += D w for one tiled dictionary block D (n_rows x
// n_components, the layout of tile_dictionary); out aligned like the kernel's vectors.
inline void multiply_add_tiled(const float* tiled, int n_rows, int n_components,
                               const float* w, float* out) noexcept {
  DictionaryBlocks block;
  block.n_blocks = 1;
  block.n_rows = n_rows;
  block.tiled[0] = tiled;
  block.n_components[0] = n_components;
  detail::kl_model(block, out, 0.0f, w, out, false);
}

// [any thread] tiled = the n_rows x n_components column-major dictionary in the row-tile
// layout that DictionaryBlocks::tiled points to (same size); no allocation.
inline void tile_dictionary(const float* columns, int n_rows, int n_components,
                            float* tiled) noexcept {
  detail::for_each_tile(n_rows, false, [&](int first, int lanes) {
    const int row = first * detail::kLaneFloats;
    const int height = lanes * detail::kLaneFloats;
    float* out = tiled + static_cast<std::ptrdiff_t>(row) * n_components;
    for (int k = 0; k < n_components; ++k) {
      const float* column = columns + static_cast<std::ptrdiff_t>(k) * n_rows + row;
      std::copy(column, column + height, out + static_cast<std::ptrdiff_t>(k) * height);
    }
  });
}

// [audio-thread] update_activations for Kullback-Leibler: the denominator is column sum + l1.
inline void update_kl(const DictionaryBlocks& dictionary, const float* column_sums,
                      const VectorF& frame, float* h, const ActivationSettings& settings,
                      ActivationScratch& scratch, const VectorF* offset) noexcept {
  const int n_components = dictionary.total_components();
  float* denominator = scratch.denominator.data();
  for (int k = 0; k < n_components; ++k) {
    denominator[k] = std::max(column_sums[k] + settings.l1, 1e-30f);
  }
  const float* fixed = offset != nullptr ? offset->data() : nullptr;
  detail::kl_updates(dictionary, frame.data(), fixed, settings.epsilon, denominator,
                     settings.n_iter, h, scratch.column_lanes.data(), scratch.numerator.data());
}

// [audio-thread] Runs settings.n_iter multiplicative updates of h (length
// dictionary.total_components(), updated in place) for the frame v (an aligned vector of
// n_rows, zero in the padding, scaled to sum to one by the caller). column_sums holds the
// sum of each dictionary column (1 for normalised dictionaries); Kullback-Leibler needs it as
// its gradient's constant term. offset, if given, is a fixed non-negative part of the model
// (a convolutive source's past frames): v ~ D h + offset. activation_model gives the model
// of the result.
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
}

// [audio-thread] scratch.model = D h + offset + epsilon, for h as update_activations left it
// with the same arguments.
inline void activation_model(const DictionaryBlocks& dictionary, const float* h,
                             const ActivationSettings& settings, ActivationScratch& scratch,
                             const VectorF* offset = nullptr) noexcept {
  if (settings.divergence != Divergence::KullbackLeibler) {
    reconstruct(dictionary, h, settings.epsilon, offset, scratch.model);
    return;
  }
  // Tiles in the order opposite to the last update's, which left its last tile in the L1
  // cache (see kl_updates).
  detail::kl_model(dictionary, offset != nullptr ? offset->data() : nullptr, settings.epsilon,
                   h, scratch.model.data(), settings.n_iter % 2 == 1);
}

}  // namespace livesep
