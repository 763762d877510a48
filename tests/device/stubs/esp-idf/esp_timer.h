/* Stub of ESP-IDF's esp_timer.h (host test). */
#ifndef ESP_TIMER_H
#define ESP_TIMER_H
#include <stdint.h>
int64_t esp_timer_get_time(void); /* microseconds since boot */
#endif
