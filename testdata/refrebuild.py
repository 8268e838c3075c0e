#!/usr/bin/env python3
"""Rebuilds NervesKey certificates from slot bytes with the independent
Python reference (nerves_key_ref.py, see docs/nerves_key.md §0), for
provision_ref_test.go. Input on stdin, one JSON object:
  {"slot10": hex, "slot11": hex, "slot12": hex, "device_raw": hex64,
   "chip_sn9": hex, "mfg_sn": str}
Output: {"device": hex DER, "signer": hex DER}.
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nerves_key_ref as ref

a = json.load(sys.stdin)
h = bytes.fromhex
signer_raw = h(a["slot11"])[:64]
print(json.dumps({
    "device": ref.nk_device_cert(h(a["slot10"]), h(a["device_raw"]), signer_raw,
                                 h(a["chip_sn9"]), a["mfg_sn"]).hex(),
    "signer": ref.nk_signer_cert(h(a["slot12"]), signer_raw).hex(),
}))
