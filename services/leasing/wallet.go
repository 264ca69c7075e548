package leasing

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/identity"
)

// Wallet events on the lease's timeline.
const (
	EventWalletToppedUp = "WALLET_TOPPED_UP"
	EventWalletLow      = "WALLET_80_PERCENT_USED"
	EventWalletEmpty    = "WALLET_EMPTY"
)

// Wallet is a contract's prepaid money: what was topped up in all, what is
// left, and the share used.
type Wallet struct {
	ToppedUp    decimal.Decimal
	Balance     decimal.Decimal
	UsedPercent decimal.Decimal
}

func walletAccount(c *StoredContract) string { return "lessee:" + c.LesseeID.String() + ":wallet" }
func receivableAccount(c *StoredContract) string {
	return "lessee:" + c.LesseeID.String() + ":receivable"
}

// WalletOf reads a contract's wallet.
func (s *Store) WalletOf(ctx context.Context, c *StoredContract) (Wallet, error) {
	return walletIn(ctx, s.db, c)
}

func walletIn(ctx context.Context, q querier, c *StoredContract) (Wallet, error) {
	var w Wallet
	err := q.QueryRow(ctx, `SELECT (SELECT coalesce(sum(amount), 0) FROM wallet_topups WHERE contract_id = $1),
		(SELECT coalesce(-sum(amount), 0) FROM ledger_entries WHERE contract_id = $1 AND account = $2)`, c.ID, walletAccount(c)).
		Scan(&w.ToppedUp, &w.Balance)
	if err != nil {
		return Wallet{}, err
	}
	if w.ToppedUp.IsPositive() {
		w.UsedPercent = w.ToppedUp.Sub(w.Balance).Mul(hundred).Div(w.ToppedUp).Round(2)
	}
	return w, nil
}

// TopUpWallet records money the lessee paid ahead of usage (the lessor's
// admins and finance staff, or the operator), idempotent on reference. The
// wallet pays what the lessee owes at once, and every invoice after it, until
// it is empty; 80% and 100% used are announced on the lease's timeline.
func (s *Store) TopUpWallet(ctx context.Context, p *identity.Principal, contractID uuid.UUID, amount decimal.Decimal, reference string) (Wallet, error) {
	c, err := s.Contract(ctx, p, contractID)
	if err != nil {
		return Wallet{}, err
	}
	if err := identity.Authorize(p, identity.ActPaymentRecord, identity.Scope{EnterpriseID: c.LessorID}); err != nil {
		return Wallet{}, err
	}
	reference = strings.TrimSpace(reference)
	if problems := checkMoneyReceived(c, amount, reference); len(problems) > 0 {
		return Wallet{}, problems
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM lease_contracts WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
			return err
		}
		id := uuid.New()
		tag, err := tx.Exec(ctx, `INSERT INTO wallet_topups (id, contract_id, reference, amount, currency) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (contract_id, reference) DO NOTHING`, id, c.ID, reference, amount, c.Terms.Currency)
		if err != nil || tag.RowsAffected() == 0 {
			return err // a repeated reference is the same top-up
		}
		for _, e := range []struct {
			account string
			amount  decimal.Decimal
		}{{"platform:cash", amount}, {walletAccount(c), amount.Neg()}} {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (posting_key, account, amount, currency, contract_id) VALUES ($1,$2,$3,$4,$5)`,
				"topup:"+id.String(), e.account, e.amount, c.Terms.Currency, c.ID); err != nil {
				return err
			}
		}
		// A new filling: the thresholds are announced again from here on, as
		// far as the wallet is now used.
		w, err := walletIn(ctx, tx, c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE lease_contracts SET wallet_alerted = $2 WHERE id = $1`, c.ID, alertLevel(w.UsedPercent)); err != nil {
			return err
		}
		return appendEvent(ctx, tx, c.ID, EventWalletToppedUp, fmt.Sprintf("wallet topped up by %s %s (%s): %s left",
			amount.StringFixed(2), c.Terms.Currency, reference, w.Balance.StringFixed(2)),
			map[string]any{"amount": amount, "reference": reference, "balance": w.Balance})
	})
	if err != nil {
		return Wallet{}, fmt.Errorf("top up wallet: %w", err)
	}
	s.poke(ctx, c.ID)
	if err := s.checkCredit(ctx, c); err != nil {
		return Wallet{}, err
	}
	return s.WalletOf(ctx, c)
}

// alertLevel is the highest threshold a share used has reached.
func alertLevel(used decimal.Decimal) int {
	switch {
	case used.GreaterThanOrEqual(hundred):
		return 100
	case used.GreaterThanOrEqual(decimal.NewFromInt(80)):
		return 80
	}
	return 0
}

// drawWallet pays what the lessee owes from its wallet, as far as it goes,
// and announces the thresholds the wallet crosses; it runs under the
// contract's lock inside the credit check. It reports whether it appended
// events.
func drawWallet(ctx context.Context, tx pgx.Tx, c *StoredContract) (bool, error) {
	w, err := walletIn(ctx, tx, c)
	if err != nil || !w.ToppedUp.IsPositive() {
		return false, err
	}
	var owed decimal.Decimal
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE contract_id = $1 AND account = $2`,
		c.ID, receivableAccount(c)).Scan(&owed); err != nil {
		return false, err
	}
	appended := false
	if draw := decimal.Min(owed, w.Balance); draw.IsPositive() {
		posting := "wallet:" + uuid.NewString()
		for _, e := range []struct {
			account string
			amount  decimal.Decimal
		}{{walletAccount(c), draw}, {receivableAccount(c), draw.Neg()}} {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (posting_key, account, amount, currency, contract_id) VALUES ($1,$2,$3,$4,$5)`,
				posting, e.account, e.amount, c.Terms.Currency, c.ID); err != nil {
				return false, err
			}
		}
		if w, err = walletIn(ctx, tx, c); err != nil {
			return false, err
		}
	}
	var alerted int
	if err := tx.QueryRow(ctx, `SELECT wallet_alerted FROM lease_contracts WHERE id = $1`, c.ID).Scan(&alerted); err != nil {
		return false, err
	}
	if level := alertLevel(w.UsedPercent); level > alerted {
		typ, msg := EventWalletLow, fmt.Sprintf("%s%% of the wallet used: %s %s left of %s", w.UsedPercent.String(), w.Balance.StringFixed(2), c.Terms.Currency, w.ToppedUp.StringFixed(2))
		if level == 100 {
			typ, msg = EventWalletEmpty, fmt.Sprintf("the wallet is used up (%s %s topped up); usage is owed again", w.ToppedUp.StringFixed(2), c.Terms.Currency)
		}
		if err := appendEvent(ctx, tx, c.ID, typ, msg, map[string]any{"balance": w.Balance, "toppedUp": w.ToppedUp, "usedPercent": w.UsedPercent}); err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, `UPDATE lease_contracts SET wallet_alerted = $2 WHERE id = $1`, c.ID, level); err != nil {
			return false, err
		}
		appended = true
	}
	return appended, nil
}
