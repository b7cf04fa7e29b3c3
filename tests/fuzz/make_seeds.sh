#!/usr/bin/env bash
# Regenerates the committed seed corpora tests/fuzz/corpus/<harness>/.
# Text seeds are written here; models saved by crest and images cut from
# data/images by crest are made by make_seeds.c (needs `make all` first);
# TF.js seeds also come from the Keras/TF.js-written golden layer models
# in tests/golden/layers (the small ones). Inputs the fuzzers found that
# crashed crest are kept beside them as crash-*.* and are not touched here.
#   bash tests/fuzz/make_seeds.sh [BUILD]
set -eu
BUILD="${1:-build}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
C=tests/fuzz/corpus
for d in tfjs csv arff spec png jpeg idx expr imgopts; do
  mkdir -p "$C/$d"
  find "$C/$d" -type f ! -name 'crash-*' -delete
done

# ---- TF.js: crest-saved models, and small golden models by TF.js -----------
cc -std=c11 -Wall -Wextra -Werror -O1 -Iinclude -o "$BUILD/make_seeds" tests/fuzz/make_seeds.c \
  "$BUILD/libcrest.a" $(make -s --no-print-directory print-ldlibs)
"$BUILD/make_seeds" "$C" "${CREST_DATA:-data}"
for g in conv_valid dw_valid_dil sepconv bn_infer maxpool_same_s2 zeropad_tblr crop_tblr \
         activations quant_uint8 quant_float16 gap_keepdims relu_options rescaling \
         conv1d_causal_dil sepconv1d_same dwconv1d_same_s2 avgpool1d_same_s2 gmp1d_keepdims \
         upsampling1d_2 zeropad1d_pair cropping1d_pair conv1d_cf_same_s2 merges_rank3; do
  m="tests/golden/layers/$g"
  { sed 's/"weights.bin"/"w0.bin"/' "$m/model.json"; printf '\n--shard--\n'; cat "$m/weights.bin"; } \
    > "$C/tfjs/golden_$g"
done

# ---- CSV --------------------------------------------------------------------
head -n 8 "${CREST_DATA:-data}/penguins/penguins.csv" > "$C/csv/penguins.csv"
printf 'a,b,label\r\n1,x,yes\r\n2,"y, ""q""",no\r\n,"multi\nline",yes\r\n' > "$C/csv/quoted_crlf.csv"
printf '4,2,setosa,versicolor\n5.1,3.5,0\n4.9,3.0,1\n6.2,2.9,1\n5.0,3.6,0\n' > "$C/csv/sklearn.csv"
printf 'n,t,label\n1e3,a,0\n-2.5,b,1\nNA,?,1\nNaN,c,0\ninf,a,1\n' > "$C/csv/missing.csv"

# ---- ARFF -------------------------------------------------------------------
cat > "$C/arff/weather.arff" <<'A'
% the classic
@relation weather
@attribute outlook {sunny, overcast, 'rainy day'}
@attribute temperature numeric
@attribute 'humid ity' real
@attribute id integer
@attribute note string
@attribute label {yes,no}
@data
sunny,85,85.5,1,'hot, dry',no
overcast,83,?,2,"mild",yes
'rainy day', 70 ,96,3,x,yes
A
printf '@RELATION r\n@ATTRIBUTE x NUMERIC\n@ATTRIBUTE label {a,b}\n@DATA\n1,a\n%% c\n2,b\n' > "$C/arff/upper.arff"
printf '@relation s\n@attribute x numeric\n@attribute label {a,b}\n@data\n{0 1, 1 a}\n' > "$C/arff/sparse.arff"

# ---- feature specs (over the columns of fuzz_spec.c's table) ----------------
S="$C/spec"
echo '{"label":"label","features":{"a":"float_normalized","b":"string_categorical","c":"integer_categorical"}}' > "$S/basic.json"
echo '{"features":{"a":{"type":"float_rescaled","scale":0.5,"offset":1},"c":{"type":"float_discretized","bin_boundaries":[1,3,5]},"d":{"type":"string_hashed","num_bins":8}}}' > "$S/numeric.json"
echo '{"label":"label","features":{"b":{"type":"string_categorical","output_mode":"embedding","embedding_dim":3,"combiner":"sqrtn"},"tags":{"type":"string_categorical","separator":" ","max_values":3,"output_mode":"multi_hot"},"c":{"type":"identity","num_buckets":10,"default_value":0}},"crosses":[{"features":["b","c"],"crossing_dim":16}]}' > "$S/embed_cross.json"
echo '{"label":"label","classes":["no","yes"],"features":{"a":{"type":"float_normalized","mean":1,"variance":4,"missing_indicator":true},"b":{"type":"string_categorical","vocabulary":["x","y"],"num_oov_indices":2},"c":{"type":"integer_hashed","num_bins":4},"d":{"type":"float_discretized","num_bins":3}}}' > "$S/adapted.json"
echo '{"features":{"tags":{"type":"string_categorical","separator":" ","max_values":4,"output_mode":"embedding","embedding_dim":2,"combiner":"sum","weight_feature":"a"},"b":{"type":"integer_categorical","max_tokens":5,"output_mode":"count"}}}' > "$S/weighted.json"

# ---- IDX: 3 images of 2x2, SEP, 3 labels ------------------------------------
printf '\0\0\10\3\0\0\0\3\0\0\0\2\0\0\0\2\0\1\2\3\4\5\6\7\10\11\12\13--labels--\0\0\10\1\0\0\0\3\0\1\11' > "$C/idx/three"
printf '\0\0\10\3\0\0\0\1\0\0\0\1\0\0\0\1\377--labels--\0\0\10\1\0\0\0\1\0' > "$C/idx/one"

# ---- expressions ------------------------------------------------------------
E="$C/expr"
printf 'W[_,3]: softmax(x @ W + b)' > "$E/dense"
printf 'W[_,4]=he_normal V[4,2]=zeros: log_softmax(relu6(x @ W) @ V)' > "$E/two_layers"
printf 'g[_]=ones: (x - mean(x, -1)) / 2 * g + b' > "$E/norm"
printf 'sigmoid(-x * s) + tanh(sum(x, 1)) - swish(x) * 0.5' > "$E/reduce"
printf 'W[_,_]: x @ W' > "$E/square"

# ---- image options (model metadata) ----------------------------------------
echo '{"height":224,"width":224,"channels":3,"preprocess":"tf","crop_to_aspect":true,"resize":"bilinear","align_corners":false,"half_pixel_centers":true}' > "$C/imgopts/mobilenet.json"
echo '{"height":28,"width":28,"channels":1,"preprocess":"x/255"}' > "$C/imgopts/grey.json"
echo "seeds: $(find "$C" -type f | wc -l) files, $(du -sk "$C" | cut -f1) KiB"
