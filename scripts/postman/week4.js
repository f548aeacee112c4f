// Week 4 – auth and cart: signup, login, me, refresh, logout; a guest cart merged at login.

function expectSignedUp() {
    pm.test("signed in as the new user", () => {
        const d = pm.response.json().data;
        pm.expect(d.user.email).to.eql(pm.collectionVariables.get("email"));
        pm.expect(d.user).to.not.have.property("passwordHash");
    });
}

function expectMe() {
    pm.test("it is me", () => pm.expect(pm.response.json().data.email).to.eql(pm.collectionVariables.get("email")));
}

function expectBothTokens() {
    pm.test("new access token and the next refresh token", () => {
        const d = pm.response.json().data;
        pm.expect(d.accessToken).to.be.a("string");
        pm.expect(d.refreshToken).to.be.a("string");
    });
}

function expectGuestCartWithToken() {
    pm.test("guest cart with a token", () => {
        const c = pm.response.json().data;
        pm.expect(c.cartToken).to.be.a("string");
        pm.expect(pm.response.headers.get("X-Cart-Token")).to.eql(c.cartToken);
        pm.expect(c.items[0].ticketTypeId).to.eql(Number(pm.collectionVariables.get("ticketTypeId")));
    });
}

function expectOneLineHeld() {
    pm.test("one line, seats held", () => {
        const c = pm.response.json().data;
        pm.expect(c.items.length).to.eql(1);
        pm.expect(Date.parse(c.holdExpiresAt)).to.be.above(Date.now());
    });
}

function expectGuestCartMerged() {
    pm.test("signed in, guest cart merged", () => {
        pm.expect(pm.response.json().data.cart.totalQuantity).to.be.at.least(1);
    });
}

function expectMergedLineIsMine() {
    pm.test("the merged line is mine", () => {
        const c = pm.response.json().data;
        pm.expect(c.cartToken).to.eql(null);
        pm.expect(c.items.length).to.eql(1);
    });
}

function expectQuantityTwo() {
    pm.test("quantity is 2", () => pm.expect(pm.response.json().data.items[0].quantity).to.eql(2));
}

function expectQuantityNamed() {
    pm.test("names quantity", () => pm.expect(pm.response.json().errors).to.have.property("quantity"));
}

function expectEmptyCartSeatsReleased() {
    pm.test("cart is empty, seats released", () => {
        const c = pm.response.json().data;
        pm.expect(c.items).to.eql([]);
        pm.expect(c.holdExpiresAt).to.eql(null);
    });
}

function expectOneLine() {
    pm.test("one line again", () => pm.expect(pm.response.json().data.totalQuantity).to.eql(1));
}

function expectEmptyCart() {
    pm.test("empty", () => pm.expect(pm.response.json().data.items).to.eql([]));
}
