package teamsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// writeTimeout bounds one message write.
const writeTimeout = 30 * time.Second

// write sends one message.
func write(ctx context.Context, conn *websocket.Conn, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := wsjson.Write(ctx, conn, m); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, closeReason(err))
	}
	return nil
}

// read receives one message.
func read(ctx context.Context, conn *websocket.Conn) (Message, error) {
	var m Message
	if err := wsjson.Read(ctx, conn, &m); err != nil {
		return m, closeReason(err)
	}
	return m, nil
}

// closeReason turns the hub's close frame into an error that says why.
func closeReason(err error) error {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case CloseRevoked:
		return fmt.Errorf("%w (%s)", ErrRevoked, ce.Reason)
	case CloseProtocol, CloseBadHello:
		return fmt.Errorf("the hub refused the session: %s", ce.Reason)
	}
	if ce.Reason != "" {
		return fmt.Errorf("the hub closed the connection: %s", ce.Reason)
	}
	return fmt.Errorf("the hub closed the connection (%d)", ce.Code)
}

// Write and Read are the hub's side of the same framing.

// WriteMessage sends m on conn.
func WriteMessage(ctx context.Context, conn *websocket.Conn, m Message) error {
	return write(ctx, conn, m)
}

// ReadMessage receives one message from conn.
func ReadMessage(ctx context.Context, conn *websocket.Conn) (Message, error) {
	var m Message
	err := wsjson.Read(ctx, conn, &m)
	return m, err
}
