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

// [audio-thread] (D h + offset + epsilon) for the kLaneFloats rows from row on; two partial
// sums halve the dependency chain of the accumulation.
inline Lane model_lane(const float* const* __restrict columns, int n_components, int row,
                       const float* __restrict offset, float epsilon,
                       const float* __restrict h) noexcept {
  Lane even = offset != nullptr ? load_lane(offset + row) + epsilon : Lane{} + epsilon;
  Lane odd = Lane{} + 0.0f;
  for (int k = 0; k < n_components; k += 2) {
    even += load_lane(columns[k] + row) * h[k];
    odd += load_lane(columns[k + 1] + row) * h[k + 1];
  }
  return even + odd;
}

// [audio-thread] n_iter Kullback-Leibler updates h_k *= (D^T (v / (D h + offset + eps)))_k /
// denominator_k of K activations (K a multiple of 4), in two tight passes per iteration: the
// model and the ratio over all rows, then the gradient sums of four columns at a time with
// their accumulators in registers. About 1.4 times as fast as Eigen's matrix-vector products
// with their per-column reductions. ratio: n_rows floats; gradient: K floats.
inline void fused_kl_updates(const float* const* __restrict columns, int n_components,
                             int n_rows, const float* __restrict frame,
                             const float* __restrict offset, float epsilon,
                             const float* __restrict denominator, int n_iter,
                             float* __restrict h, float* __restrict ratio,
                             float* __restrict gradient) noexcept {
  for (int iteration = 0; iteration < n_iter; ++iteration) {
    // Two lanes of rows at a time share each column pointer and activation (model_lane,
    // unrolled twice); then the odd lane left over, if any.
    int row = 0;
    for (; row + 2 * kLaneFloats <= n_rows; row += 2 * kLaneFloats) {
      const int next = row + kLaneFloats;
      Lane a_even = offset != nullptr ? load_lane(offset + row) + epsilon : Lane{} + epsilon;
      Lane b_even = offset != nullptr ? load_lane(offset + next) + epsilon : Lane{} + epsilon;
      Lane a_odd = Lane{} + 0.0f, b_odd = a_odd;
      for (int k = 0; k < n_components; k += 2) {
        const float* c0 = columns[k];
        const float* c1 = columns[k + 1];
        a_even += load_lane(c0 + row) * h[k];
        b_even += load_lane(c0 + next) * h[k];
        a_odd += load_lane(c1 + row) * h[k + 1];
        b_odd += load_lane(c1 + next) * h[k + 1];
      }
      const Lane a = load_lane(frame + row) / (a_even + a_odd);
      const Lane b = load_lane(frame + next) / (b_even + b_odd);
      std::memcpy(ratio + row, &a, sizeof a);
      std::memcpy(ratio + next, &b, sizeof b);
    }
    for (; row < n_rows; row += kLaneFloats) {
      const Lane quotient =
          load_lane(frame + row) / model_lane(columns, n_components, row, offset, epsilon, h);
      std::memcpy(ratio + row, &quotient, sizeof quotient);
    }
    // h changes only after every gradient is summed (a simultaneous update, as in the paper).
    for (int k = 0; k < n_components; k += 4) {
      Lane g0 = Lane{} + 0.0f, g1 = g0, g2 = g0, g3 = g0;
      for (int row = 0; row < n_rows; row += kLaneFloats) {
        const Lane r = load_lane(ratio + row);
        g0 += load_lane(columns[k] + row) * r;
        g1 += load_lane(columns[k + 1] + row) * r;
        g2 += load_lane(columns[k + 2] + row) * r;
        g3 += load_lane(columns[k + 3] + row) * r;
      }
      gradient[k] = lane_sum(g0);
      gradient[k + 1] = lane_sum(g1);
      gradient[k + 2] = lane_sum(g2);
      gradient[k + 3] = lane_sum(g3);
    }
    for (int k = 0; k < n_components; ++k) h[k] *= gradient[k] / denominator[k];
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
  detail::fused_kl_updates(scratch.columns.data(), padded, dictionary.n_rows, frame.data(),
                           offset != nullptr ? offset->data() : nullptr, settings.epsilon,
                           denominator, settings.n_iter, activations, scratch.ratio.data(),
                           scratch.numerator.data());
  std::copy(activations, activations + n_components, h);
  reconstruct(dictionary, h, settings.epsilon, offset, scratch.model);
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
