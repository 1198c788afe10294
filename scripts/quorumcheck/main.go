// Command quorumcheck declares a durable quorum queue through one broker, publishes one message to it
// (waiting for the publisher confirm) and gets that message back through another broker. The test of
// scripts/rabbitmq.sh runs it against two nodes of the script's cluster, then asks the cluster which
// nodes are the queue's members; the queue is left in place for that.
//
//	go run ./scripts/quorumcheck -queue NAME PUBLISH_URL GET_URL
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quorumcheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("quorumcheck", flag.ContinueOnError)
	queue := fs.String("queue", "quorumcheck", "name of the quorum queue to declare")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("want two broker URLs: the one to publish through and the one to get through")
	}
	body := fmt.Appendf(nil, "quorumcheck %d", time.Now().UnixNano())
	if err := declareAndPublish(ctx, fs.Arg(0), *queue, body); err != nil {
		return fmt.Errorf("publish through %s: %w", fs.Arg(0), err)
	}
	if err := getOne(ctx, fs.Arg(1), *queue, body); err != nil {
		return fmt.Errorf("get through %s: %w", fs.Arg(1), err)
	}
	fmt.Fprintf(stdout, "quorum queue %q: published through %s, got back through %s\n", *queue, fs.Arg(0), fs.Arg(1))
	return nil
}

func declareAndPublish(ctx context.Context, url, queue string, body []byte) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		return fmt.Errorf("declare queue %q: %w", queue, err)
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode: %w", err)
	}
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, Body: body})
	if err != nil {
		return err
	}
	acked, err := confirm.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for the confirm: %w", err)
	}
	if !acked {
		return errors.New("the broker nacked the message")
	}
	return nil
}

// getOne polls the queue (bounded by ctx) until a message is there, and checks that it is body.
func getOne(ctx context.Context, url, queue string, body []byte) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	for {
		msg, ok, err := ch.Get(queue, false)
		if err != nil {
			return fmt.Errorf("get from %q: %w", queue, err)
		}
		if ok {
			if !bytes.Equal(msg.Body, body) {
				return fmt.Errorf("got %q from %q, want %q", msg.Body, queue, body)
			}
			return msg.Ack(false)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no message in %q: %w", queue, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
