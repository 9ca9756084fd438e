# File flagged pitches into the "Pitches" folder (Dovecot/Pigeonhole, or
# any Sieve-capable server). pitchfork removes forged X-Pitchfork-* headers,
# so this header can be trusted when pitchfork runs on your MX.
require ["fileinto", "mailbox"];

if header :is "X-Pitchfork-Flag" "YES" {
  fileinto :create "Pitches";
  stop;
}
