#if __has_include(<opus/opus.h>)
#include <opus/opus.h>
#else
#include <opus.h>
#endif
#include "vcb_shims.h"

int vcb_opus_encoder_set_bitrate(OpusEncoder *enc, int32_t v) { return opus_encoder_ctl(enc, OPUS_SET_BITRATE(v)); }
int vcb_opus_encoder_get_bitrate(OpusEncoder *enc, int32_t *v) { return opus_encoder_ctl(enc, OPUS_GET_BITRATE(v)); }
int vcb_opus_encoder_set_complexity(OpusEncoder *enc, int32_t v) { return opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(v)); }
int vcb_opus_encoder_set_inband_fec(OpusEncoder *enc, int32_t v) { return opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(v)); }
int vcb_opus_encoder_set_packet_loss_perc(OpusEncoder *enc, int32_t v) { return opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(v)); }
int vcb_opus_encoder_set_dtx(OpusEncoder *enc, int32_t v) { return opus_encoder_ctl(enc, OPUS_SET_DTX(v)); }
int vcb_opus_encoder_set_signal_voice(OpusEncoder *enc) { return opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)); }
int vcb_opus_encoder_get_in_dtx(OpusEncoder *enc, int32_t *v) { return opus_encoder_ctl(enc, OPUS_GET_IN_DTX(v)); }
int vcb_opus_decoder_get_last_packet_duration(OpusDecoder *dec, int32_t *v) {
    return opus_decoder_ctl(dec, OPUS_GET_LAST_PACKET_DURATION(v));
}
int vcb_opus_decoder_reset(OpusDecoder *dec) { return opus_decoder_ctl(dec, OPUS_RESET_STATE); }
