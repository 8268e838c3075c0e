package nerveskey

import (
	"fmt"

	"github.com/nerveskey/nerveskey/internal/atecc"
)

// maxShortSNLen is the longest manufacturer serial number that leaves
// room for OTP user data (docs/nerves_key.md §5.1).
const maxShortSNLen = 16

// setUserData puts info's user data into o, as nerves_key's OTP.new(board,
// sn, user) lays it out. User data with a serial over 16 bytes is refused:
// that layout has no room for it.
func setUserData(o *atecc.NervesKeyOTP, info *ProvisioningInfo) error {
	if info.UserData == ([32]byte{}) {
		return nil
	}
	if len(info.ManufacturerSN) > maxShortSNLen || o.Flags != atecc.OTPFlagsShortSN {
		return &InputError{Field: "user data", Reason: fmt.Sprintf("needs a manufacturer serial number of at most %d bytes; %q is %d, and takes the OTP bytes user data would use",
			maxShortSNLen, info.ManufacturerSN, len(info.ManufacturerSN))}
	}
	o.User = info.UserData
	return nil
}

// userData returns the OTP user bytes as Info reports them: those of a
// short-serial layout, zero for the long one.
func userData(o *atecc.NervesKeyOTP) [32]byte {
	if o.Flags == atecc.OTPFlagsLongSN {
		return [32]byte{}
	}
	return o.User
}
