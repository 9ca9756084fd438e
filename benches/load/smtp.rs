//! A small blocking SMTP client: one message per session, each command
//! waiting for its reply, as a plain (non-pipelining) client does.

use crate::corpus::Mail;
use std::{
    io::{self, BufRead, BufReader, Write},
    net::TcpStream,
    time::Duration,
};

/// The DATA payload of a message: CRLF lines, dot-stuffed, with the final
/// `.` line.
pub fn data(mail: &Mail) -> Vec<u8> {
    let mut text = Vec::with_capacity(mail.size + 64);
    for (name, value) in &mail.headers {
        text.extend_from_slice(name);
        text.push(b':');
        for &b in value {
            if b == b'\n' {
                text.extend_from_slice(b"\r\n");
            } else {
                text.push(b);
            }
        }
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b"\r\n");
    let mut out = Vec::with_capacity(text.len() + mail.body.len() + 8);
    for line in text
        .split_inclusive(|&b| b == b'\n')
        .chain(mail.body.split_inclusive(|&b| b == b'\n'))
    {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Sends one message; `Err` carries the command and the server's reply.
pub fn send(port: u16, data: &[u8]) -> Result<(), String> {
    let session = || -> io::Result<Result<(), String>> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let steps: [(&[u8], u16); 6] = [
            (b"EHLO client.example.org\r\n", 250),
            (b"MAIL FROM:<sender@example.org>\r\n", 250),
            (b"RCPT TO:<user@pitch.test>\r\n", 250),
            (b"DATA\r\n", 354),
            (data, 250),
            (b"QUIT\r\n", 221),
        ];
        if let Err(reply) = expect(&mut reader, 220)? {
            return Ok(Err(format!("banner: {reply}")));
        }
        for (command, code) in steps {
            writer.write_all(command)?;
            if let Err(reply) = expect(&mut reader, code)? {
                let shown = String::from_utf8_lossy(&command[..command.len().min(20)]);
                return Ok(Err(format!("{}: {reply}", shown.trim_end())));
            }
        }
        Ok(Ok(()))
    };
    session().map_err(|e| format!("SMTP I/O: {e}"))?
}

/// Reads a (multi-line) reply; `Err` with its text unless the code matches.
fn expect(reader: &mut impl BufRead, code: u16) -> io::Result<Result<(), String>> {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(Err(format!("connection closed after {reply:?}")));
        }
        reply.push_str(&line);
        // "250-..." continues, "250 ..." ends the reply.
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
    if reply.get(..3) == Some(code.to_string().as_str()) {
        Ok(Ok(()))
    } else {
        Ok(Err(reply.trim_end().to_owned()))
    }
}
