/* STAND-IN for the HOLOEYE SLM Display SDK's C API (API 3) built by the tests: the signatures of
 * holoeye_slmdisplaysdk_*.h, recording every call and its arguments; see standin.h. */
#include "standin.h"

typedef struct { int api; char apiname[32]; } heds_configuration;

static int g_w = 64, g_h = 48, g_api = 3;
static double g_pitch = 8.0;

void standin_geometry(int w, int h, int api, int pitch_x100, int unused) {
    (void)unused;
    g_w = w; g_h = h; g_api = api; g_pitch = pitch_x100 / 100.0;
}

int heds_requires_version(int requiredApiVersion, int showMessagebox) {
    rec("heds_requires_version api=%d messagebox=%d", requiredApiVersion, showMessagebox);
    return requiredApiVersion == g_api;
}
int heds_slm_init(const heds_configuration *configuration) {
    int code;
    rec("heds_slm_init api=%d apiname=%.32s", configuration->api, configuration->apiname);
    return failing("heds_slm_init", &code) ? code : 0;
}
void heds_slm_close(void) { rec("heds_slm_close"); }
int heds_slm_width_px(void) { rec("heds_slm_width_px"); return g_w; }
int heds_slm_height_px(void) { rec("heds_slm_height_px"); return g_h; }
double heds_slm_pixelsize_um(void) { rec("heds_slm_pixelsize_um"); return g_pitch; }
float heds_slm_refreshrate_hz(void) { rec("heds_slm_refreshrate_hz"); return 60.0f; }
int heds_show_data_grayscale_uchar(int width, int height, const unsigned char *data, int pitch,
                                   unsigned int showFlags) {
    int code;
    rec("heds_show_data_grayscale_uchar width=%d height=%d pitch=%d flags=%u", width, height, pitch, showFlags);
    if (failing("heds_show_data_grayscale_uchar", &code)) return code;
    keep_image(data, (size_t)width * height);
    return 0;
}
int heds_slm_wavefrontcompensation_load_utf8(const char *filename, double wavelength_nm, unsigned int flags,
                                             int shift_x, int shift_y) {
    int code;
    rec("heds_slm_wavefrontcompensation_load_utf8 file=%s wavelength_nm=%.3f flags=%u shift=%d,%d", filename,
        wavelength_nm, flags, shift_x, shift_y);
    return failing("heds_slm_wavefrontcompensation_load_utf8", &code) ? code : 0;
}
const char *heds_error_string_ascii(int error) {
    rec("heds_error_string_ascii error=%d", error);
    switch (error) {
        case 1: return "The given SLM instance does not exist.";
        case 3: return "A filename was given, but the file does not exist.";
        case 9: return "The renderer had an internal error, for example when updating the window or sprite.";
        default: return "Unknown error (stand-in)";
    }
}
