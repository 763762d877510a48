/* ESP-IDF glue for the Button: Wi-Fi (protocol_examples_common), the MQTT
 * client, and a loop reading the BOOT button (GPIO 0, low when pressed).
 * The id announced is the role: give each board its own role. */
#include "button.h"

#include "driver/gpio.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs_flash.h"
#include "protocol_examples_common.h"

void app_main(void)
{
    ESP_ERROR_CHECK(nvs_flash_init());
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(example_connect());

    const esp_mqtt_client_config_t cfg = {.broker.address.uri = MSGFLO_BROKER};
    esp_mqtt_client_handle_t mqtt = esp_mqtt_client_init(&cfg);
    if (button_init(mqtt, MSGFLO_ROLE) != 0) {
        ESP_LOGE("msgflo", "bad participant definition");
        return;
    }
    esp_mqtt_client_start(mqtt);

    gpio_set_direction(GPIO_NUM_0, GPIO_MODE_INPUT);
    gpio_set_pull_mode(GPIO_NUM_0, GPIO_PULLUP_ONLY);
    for (;;) {
        /* this task owns the device: the MQTT task only queues events */
        button_poll(gpio_get_level(GPIO_NUM_0) == 0);
        vTaskDelay(pdMS_TO_TICKS(20));
    }
}
