package nerveskey

import (
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/golang-jwt/jwt/v5"
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/crypto/ssh"
	_ "periph.io/x/conn/v3/i2c"
	_ "periph.io/x/host/v3"
)
