package nerveskey
import (
 _ "periph.io/x/conn/v3/i2c"
 _ "periph.io/x/host/v3"
 _ "github.com/golang-jwt/jwt/v5"
 _ "github.com/eclipse/paho.mqtt.golang"
 _ "golang.org/x/crypto/cryptobyte"
 _ "golang.org/x/crypto/ssh"
)
