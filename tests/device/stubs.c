/* The application's side of tests/device/two_port.c for the link: an MQTT
 * client and a clock that do nothing. Not measured. */
#include <stddef.h>
#include <stdint.h>

int app_mqtt_publish(void *ctx, const char *topic, const void *data, size_t len);
int app_mqtt_subscribe(void *ctx, const char *topic);
uint32_t app_millis(void);

int app_mqtt_publish(void *ctx, const char *topic, const void *data, size_t len)
{
    (void)ctx;
    (void)topic;
    (void)data;
    return (int)len & 0;
}

int app_mqtt_subscribe(void *ctx, const char *topic)
{
    (void)ctx;
    (void)topic;
    return 0;
}

uint32_t app_millis(void)
{
    return *(volatile uint32_t *)0xE000E018u; /* SysTick's current value */
}
