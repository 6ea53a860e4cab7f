/* STAND-IN for Meadowlark's Blink_C_wrapper (HDMI panels) built by the tests: the signatures of the HDMI
 * SDK's Blink_C_wrapper.h, recording every call and its arguments; see standin.h. */
#include "standin.h"

static int g_w = 64, g_h = 48, g_depth = 8;

void standin_geometry(int w, int h, int depth, int boards, int constructed_ok) {
    (void)boards; (void)constructed_ok;
    g_w = w; g_h = h; g_depth = depth;
}

void Create_SDK(unsigned int is_cpp_or_python) { rec("Create_SDK is_cpp_or_python=%u", is_cpp_or_python); }
void Delete_SDK(void) { rec("Delete_SDK"); }
int Load_lut(char *file_path) {
    int code;
    rec("Load_lut file=%s", file_path);
    return failing("Load_lut", &code) ? 0 : 1;
}
int Write_image(unsigned char *image_data, int is_8_bit) {
    int code;
    size_t n = (size_t)g_w * g_h * (is_8_bit ? 1 : 3);
    rec("Write_image is_8_bit=%d", is_8_bit);
    if (failing("Write_image", &code)) return 0;
    keep_image(image_data, n);
    return 1;
}
int Get_Height(void) { rec("Get_Height"); return g_h; }
int Get_Width(void) { rec("Get_Width"); return g_w; }
int Get_Depth(void) { rec("Get_Depth"); return g_depth; }
float Get_SLMTemp(void) { rec("Get_SLMTemp"); return 29.25f; }
