// Stub of the ESP32 core's WiFi.h (host test).
#ifndef WIFI_H
#define WIFI_H
#include "Arduino.h"
#define WL_CONNECTED 3
class WiFiClient : public Client
{
};
class WiFiClass
{
  public:
    int begin(const char *ssid, const char *password);
    int status();
};
extern WiFiClass WiFi;
#endif
