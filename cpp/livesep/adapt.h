// Online adaptation of one source's dictionary to what it hears (semi-supervised separation:
// the voice is known, the room's noise is learned as it plays). The KL multiplicative update
// of a dictionary, W_k <- W_k .* sum_t (v_t / vhat_t) h_kt, normalised to sum to one, made
// online with exponentially forgotten statistics (in the spirit of online PLCA):
//   A_k <- rho A_k + W_k .* (v / vhat) h_k,      W_k <- A_k / sum(A_k).
// v is the frame scaled to sum to one, vhat the model's reconstruction of it (all sources,
// posterior-mixed) and h the source's posterior-weighted activations. The trained dictionary
// enters as prior statistics worth prior_mass, which fade with rho.
#pragma once

#include <algorithm>

#include "livesep/nmf.h"

namespace livesep {

class DictionaryAdapter {
 public:
  // [main-thread] For a dictionary of n_rows x n_components (column-major, padded rows).
  void prepare(int n_rows, int n_components, float forgetting, float prior_mass) {
    n_rows_ = n_rows;
    n_components_ = n_components;
    forgetting_ = forgetting;
    prior_mass_ = prior_mass;
    statistics_.setZero(n_rows, n_components);
    ratio_.setZero(n_rows);
  }

  // [audio-thread] Statistics as if the dictionary had explained prior_mass of activation.
  void reset(const float* dictionary) noexcept {
    statistics_ = ConstMatrixMap(dictionary, n_rows_, n_components_) * prior_mass_;
  }

  // [audio-thread] One frame's update of the dictionary (in place; columns keep summing to
  // one, so column_sums stay 1).
  void update(float* dictionary, const VectorF& frame, const VectorF& model,
              const float* activations) noexcept {
    Eigen::Map<MatrixF, Eigen::AlignedMax> W(dictionary, n_rows_, n_components_);
    ratio_ = frame.cwiseQuotient(model.cwiseMax(1e-12f));
    for (int k = 0; k < n_components_; ++k) {
      auto column = statistics_.col(k);
      column = column * forgetting_ + W.col(k).cwiseProduct(ratio_) * activations[k];
      const float total = column.sum();
      if (total > 1e-30f) W.col(k) = column / total;
    }
  }

 private:
  int n_rows_ = 0;
  int n_components_ = 0;
  float forgetting_ = 0.99f;
  float prior_mass_ = 1.0f;
  MatrixF statistics_;
  VectorF ratio_;
};

}  // namespace livesep
