%% Writes encode.golden: name, term_to_binary hex with minor_version 1 (OTP 17-25
%% default, AtomsLatin1) and 2 (OTP 26+ default, AtomsUTF8). Run:
%%   erlc golden.erl && erl -noshell -s golden main -s init stop > encode.golden
-module(golden).
-export([main/0]).
main() ->
  Ts = [
    {"a1", #{<<"a">> => 1}},
    {"ints", [0,255,256,-1,2147483647,2147483648,-2147483648,-2147483649, 9223372036854775807, -9223372036854775808, 18446744073709551615, 18446744073709551616]},
    {"bigpos", 1 bsl 2040},
    {"bigneg", -(1 bsl 2047)},
    {"big256", 1 bsl 2048},
    {"floats", {0.0, -0.0, 1.5, -2.25e300, 5.0e-324}},
    {"charlist", [1,2,255]},
    {"mixedlist", [1,256]},
    {"nested", [[]]},
    {"bin", <<255,0>>},
    {"atoms", {abc, 'é', list_to_atom([256]), true, false, nil}},
    {"longatom", list_to_atom(lists:duplicate(200, 256))},
    {"keys", #{<<"b">> => 1, <<"a">> => 2, <<"ab">> => 3, x => 4, 1 => 5, 2.0 => 6, {} => 7, {1,2} => 8, [] => 9, [1] => 10, #{} => 11, true => 12, nil => 13, -1 => 14, 1 bsl 70 => 15}},
    {"tuple256", list_to_tuple(lists:duplicate(256, 0))},
    {"emptymap", #{}},
    {"nil", nil}
  ],
  [ io:format("~s ~s ~s~n", [N, binary:encode_hex(term_to_binary(T, [{minor_version,1}])), binary:encode_hex(term_to_binary(T, [{minor_version,2}]))]) || {N, T} <- Ts ],
  ok.
