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
  VectorF numerator;    // K total
  VectorF denominator;  // K total

  // [main-thread]
  void resize(int n_rows, int max_components) {
    model.setZero(n_rows);
    ratio.setZero(n_rows);
    aux.setZero(n_rows);
    numerator.setZero(max_components);
    denominator.setZero(max_components);
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
  const int n_components = dictionary.total_components();
  VectorMap activations(h, n_components);
  auto numerator = scratch.numerator.head(n_components);
  auto denominator = scratch.denominator.head(n_components);
  const float tiny = 1e-30f;
  if (settings.divergence == Divergence::KullbackLeibler) {
    denominator = ConstVectorMap(column_sums, n_components).array() + settings.l1;
  }
  for (int iteration = 0; iteration < settings.n_iter; ++iteration) {
    reconstruct(dictionary, h, settings.epsilon, offset, scratch.model);
    switch (settings.divergence) {
      case Divergence::KullbackLeibler:
        scratch.ratio = frame.array() / scratch.model.array();
        transpose_multiply(dictionary, scratch.ratio, scratch.numerator);
        break;
      case Divergence::Euclidean:
        transpose_multiply(dictionary, frame, scratch.numerator);
        transpose_multiply(dictionary, scratch.model, scratch.denominator);
        denominator.array() += settings.l1;
        break;
      case Divergence::ItakuraSaito:
        scratch.aux = scratch.model.cwiseInverse();
        scratch.ratio = frame.array() * scratch.aux.array().square();
        transpose_multiply(dictionary, scratch.ratio, scratch.numerator);
        transpose_multiply(dictionary, scratch.aux, scratch.denominator);
        denominator.array() += settings.l1;
        break;
    }
    activations.array() *= numerator.array() / denominator.array().max(tiny);
  }
  reconstruct(dictionary, h, settings.epsilon, offset, scratch.model);
}

}  // namespace livesep
